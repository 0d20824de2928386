package report

import "time"

// dur renders seconds as a rounded duration.
func dur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}
