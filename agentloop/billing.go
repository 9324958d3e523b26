package agentloop

import "time"

// SessionMinimum is the least container time billed for a container session, as the
// hosted service bills container-hours with a 5-minute minimum.
const SessionMinimum = 5 * time.Minute

// BillSession returns the container time to bill for one request's use of a container
// from start to end, and the new end of the container's billed window.
//
// A container session is a period of continuous use of one container. billedUntil is
// the end of the container's current billed window (zero when it has none): a use that
// starts before it joins that session and is billed only for the time it runs past it;
// otherwise the use opens a new session, billed for its duration but at least
// SessionMinimum. So ten quick requests on one container within five minutes bill five
// minutes, not fifty, and a container idle for an hour starts a new session.
func BillSession(billedUntil, start, end time.Time) (billed time.Duration, newUntil time.Time) {
	if end.Before(start) {
		end = start
	}
	if !billedUntil.IsZero() && start.Before(billedUntil) {
		if !end.After(billedUntil) {
			return 0, billedUntil
		}
		return end.Sub(billedUntil), end
	}
	d := end.Sub(start)
	if d < SessionMinimum {
		d = SessionMinimum
	}
	return d, start.Add(d)
}
