package domain

import (
	"fmt"
	"slices"
	"time"
)

// Channel is how a request reached the organisation.
type Channel string

const (
	// ChannelWeb: the requester used the form or the public API.
	ChannelWeb Channel = "web"
	// The channels of a request an officer logs on the requester's behalf.
	ChannelLetter   Channel = "letter"
	ChannelPhone    Channel = "phone"
	ChannelEmail    Channel = "email"
	ChannelInPerson Channel = "in_person"
	// ChannelDRP: an authorized agent sent it through the Data Rights
	// Protocol (docs/drp.md).
	ChannelDRP Channel = "drp"
)

// LoggedChannels are the channels an officer may log a request from, in
// the order the dashboard offers them.
var LoggedChannels = []Channel{ChannelLetter, ChannelPhone, ChannelEmail, ChannelInPerson}

// Loggable reports whether an officer may log a request that came this way.
func (c Channel) Loggable() bool { return slices.Contains(LoggedChannels, c) }

// Label is the channel as officers read it.
func (c Channel) Label() string {
	switch c {
	case ChannelWeb:
		return "Online (form or API)"
	case ChannelLetter:
		return "Letter"
	case ChannelPhone:
		return "Phone"
	case ChannelEmail:
		return "Email"
	case ChannelInPerson:
		return "In person"
	case ChannelDRP:
		return "Authorized agent (Data Rights Protocol)"
	}
	return string(c)
}

// ReceivedSkew is how far in the future a logged request's time of
// receipt may lie: clocks of officers' machines differ a little.
const ReceivedSkew = 5 * time.Minute

// ReceivedProblem checks when an officer says a request was received,
// given the due date its regime's clock sets from that moment. A request
// cannot arrive in the future; and one received longer ago than the
// regime's period would be overdue as it is logged, which is a matter
// for the privacy office's lead, not for a form: it answers "" when the
// date is acceptable.
func ReceivedProblem(received, due, now time.Time) string {
	switch {
	case received.After(now.Add(ReceivedSkew)):
		return "cannot be in the future"
	case !due.After(now):
		return fmt.Sprintf("more than the regime's period ago: it would have been due %s", due.UTC().Format(time.DateOnly))
	}
	return ""
}
