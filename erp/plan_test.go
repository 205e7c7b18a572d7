package erp

import "testing"

func TestStaticPlan(t *testing.T) {
	var p StaticPlan
	if got := p.Authoritative(nil); got != V2 {
		t.Errorf("zero plan authoritative = %q, want %q", got, V2)
	}
	if !p.Active(V1) || !p.Active(V2) {
		t.Error("zero plan pauses a target, want both active")
	}
	p = StaticPlan{Authority: V1, Paused: map[string]bool{V2: true}}
	if got := p.Authoritative(nil); got != V1 {
		t.Errorf("back-out plan authoritative = %q, want %q", got, V1)
	}
	if !p.Active(V1) || p.Active(V2) {
		t.Errorf("back-out plan active v1=%v v2=%v, want true false", p.Active(V1), p.Active(V2))
	}
}
