package instance

import "testing"

func TestConsumerRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{Consumer("gw-1.example", "v1:3"), "gw-1.example"},
		{Consumer("a", "webhooks"), "a"},
		{"host-1234", ""},      // an older release's "<hostname>-<pid>"
		{"_backoff", ""},       // the parking consumer
		{"_x:v1:0", ""},        // reserved
		{"bad id:v1:0", ""},    // not an instance id
		{":v1:0", ""},          // empty id
		{"host-1234-v1-0", ""}, // old dispatcher name
		{"gw:v2:1", "gw"},      // first ':' ends the id
	} {
		if got := Of(tc.name); got != tc.want {
			t.Errorf("Of(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Validate(Default()); err != nil {
		t.Errorf("Default() = %q: %v", Default(), err)
	}
}
