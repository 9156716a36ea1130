package domain

import "testing"

func TestIsUnsubscribe(t *testing.T) {
	for _, c := range []struct {
		subject string
		want    bool
	}{
		{"Unsubscribe", true},
		{"UNSUBSCRIBE", true},
		{"  unsubscribe me ", true},
		{"Unsubscribe me!", true},
		{"Stop", true},
		{"STOP.", true},
		{"Re: Unsubscribe", true},
		{"RE: re: unsubscribe", true},
		{"Fwd: Opt-out", true},
		{"Abmelden", true},
		{"Se désabonner", true},
		{"darse de baja", true},
		{"", false},
		{"How do I unsubscribe?", false},
		{"Please delete my data", false},
		{"Stop selling my data and send me a copy", false},
		{"unsubscribed", false},
	} {
		if got := IsUnsubscribe(c.subject); got != c.want {
			t.Errorf("IsUnsubscribe(%q) = %v, want %v", c.subject, got, c.want)
		}
	}
}

func TestClassifiable(t *testing.T) {
	if CanClassifyAs(TypeUnclassified) || CanClassifyAs(TypeCorrection) || CanClassifyAs("nonsense") {
		t.Error("an unclassified request may become only a type its workflow can carry out from an email")
	}
	if !CanClassifyAs(TypeAccess) || !CanClassifyAs(TypeOptOut) {
		t.Error("access and opt-out are classifications")
	}
	if TypeUnclassified.Valid() {
		t.Error("unclassified must not be a type anyone can submit")
	}
}
