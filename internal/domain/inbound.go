package domain

import (
	"strings"
	"unicode"
)

// TypeUnclassified is a request that arrived by email and does not say
// which right it exercises. It is stored, its clock runs from receipt,
// and its workflow starts only once an officer classifies it into one
// of RequestTypes; it is never submitted as such.
const TypeUnclassified RequestType = "unclassified"

// Classifiable lists the types an officer may give an unclassified
// request. A correction needs the values to correct, which a free-form
// email does not give in a form dsar can carry out; the officer asks
// the requester to use the form instead.
var Classifiable = []RequestType{TypeAccess, TypeDeletion, TypeExport, TypeOptOut}

// CanClassifyAs reports whether an unclassified request may become t.
func CanClassifyAs(t RequestType) bool {
	for _, k := range Classifiable {
		if t == k {
			return true
		}
	}
	return false
}

// unsubscribeSubjects are the subjects that ask to stop marketing, after
// normalising (lower case, one space, no reply prefix or punctuation at
// the ends).
var unsubscribeSubjects = map[string]bool{
	"unsubscribe": true, "unsubscribe me": true, "please unsubscribe me": true,
	"stop": true, "opt out": true, "opt-out": true, "optout": true,
	// Localized variants: German, French, Spanish, Dutch, Italian.
	"abmelden": true, "abbestellen": true,
	"désabonner": true, "désinscription": true, "se désabonner": true, "désabonnement": true,
	"darse de baja": true, "baja": true, "cancelar suscripción": true,
	"afmelden": true, "uitschrijven": true,
	"annulla iscrizione": true, "disiscriviti": true,
}

// IsUnsubscribe reports whether an email's subject asks to stop
// marketing ("Unsubscribe", "unsubscribe me", "STOP", "Re: unsubscribe",
// a few localized words), so the email becomes an opt-out. Anything
// else, including a subject that merely mentions unsubscribing, is left
// for an officer to classify.
func IsUnsubscribe(subject string) bool {
	s := strings.ToLower(strings.Join(strings.Fields(subject), " "))
	for {
		trimmed := s
		for _, p := range []string{"re:", "aw:", "fw:", "fwd:", "tr:", "sv:"} {
			trimmed = strings.TrimSpace(strings.TrimPrefix(trimmed, p))
		}
		if trimmed == s {
			break
		}
		s = trimmed
	}
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
	return unsubscribeSubjects[s]
}
