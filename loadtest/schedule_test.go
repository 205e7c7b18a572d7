package loadtest

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseSteps(t *testing.T) {
	tests := []struct {
		in      string
		want    []Step
		wantErr bool
	}{
		{in: "1000:10s,2000:10s", want: []Step{{1000, 10 * time.Second}, {2000, 10 * time.Second}}},
		{in: " 0.5:4s ", want: []Step{{0.5, 4 * time.Second}}},
		{in: "1000", wantErr: true},
		{in: "x:1s", wantErr: true},
		{in: "10:forever", wantErr: true},
		{in: "0:1s", wantErr: true},
		{in: "-5:1s", wantErr: true},
		{in: "2000000:1s", wantErr: true}, // over MaxRate
		{in: "10:7h", wantErr: true},      // over MaxDuration
		{in: "10:0s", wantErr: true},
		{in: "0.1:1s", wantErr: false, want: []Step{{0.1, time.Second}}}, // one request at t=0
	}
	for _, tt := range tests {
		got, err := ParseSteps(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSteps(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got.Steps) != len(tt.want) {
			t.Fatalf("ParseSteps(%q) = %v, want %v", tt.in, got.Steps, tt.want)
		}
		for i := range got.Steps {
			if got.Steps[i] != tt.want[i] {
				t.Errorf("ParseSteps(%q) step %d = %v, want %v", tt.in, i, got.Steps[i], tt.want[i])
			}
		}
		back, err := ParseSteps(got.String())
		if err != nil || back.String() != got.String() {
			t.Errorf("String() round trip of %q: got %q (%v)", tt.in, back.String(), err)
		}
	}
}

func TestScheduleArrivals(t *testing.T) {
	s := Schedule{Steps: []Step{{Rate: 4, Duration: time.Second}, {Rate: 10, Duration: 500 * time.Millisecond}}}
	if got, want := s.Total(), 4+5; got != want {
		t.Fatalf("Total() = %d, want %d", got, want)
	}
	want := []Arrival{
		{0, 0, 0}, {1, 0, 250 * time.Millisecond}, {2, 0, 500 * time.Millisecond}, {3, 0, 750 * time.Millisecond},
		{4, 1, time.Second}, {5, 1, 1100 * time.Millisecond}, {6, 1, 1200 * time.Millisecond}, {7, 1, 1300 * time.Millisecond}, {8, 1, 1400 * time.Millisecond},
	}
	var got []Arrival
	s.Arrivals(func(a Arrival) bool { got = append(got, a); return true })
	if len(got) != len(want) {
		t.Fatalf("Arrivals gave %d, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arrival %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	n := 0
	s.Arrivals(func(Arrival) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("Arrivals did not stop when told: %d calls, want 3", n)
	}
	if got, want := s.Duration(), 1500*time.Millisecond; got != want {
		t.Errorf("Duration() = %v, want %v", got, want)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("rest=3, soap=1,track=0")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m, (Mix{OpREST: 3, OpSOAP: 1}); got != want {
		t.Errorf("ParseMix = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "rest", "rest=x", "rest=-1", "bogus=1", "rest=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q): want an error", bad)
		}
	}
	if back, err := ParseMix(DefaultMix.String()); err != nil || back != DefaultMix {
		t.Errorf("DefaultMix round trip = %v, %v; want %v", back, err, DefaultMix)
	}
}

func TestMixPickProportions(t *testing.T) {
	m := Mix{OpREST: 70, OpSOAP: 20, OpHealth: 10}
	r := rand.New(rand.NewPCG(3, 4))
	var counts [numOps]int
	const n = 100000
	for range n {
		counts[m.pick(r)]++
	}
	for op, w := range m {
		want := n * w / m.total()
		if d := counts[op] - want; d < -n/100 || d > n/100 {
			t.Errorf("%v picked %d times, want %d ± 1%%", Op(op), counts[op], want)
		}
	}
}
