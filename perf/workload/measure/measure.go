// Package measure checks the numbers a workload's parser read from a
// tool's output before they become results: a measurement is finite and
// not negative. A NaN or an infinity (sysbench prints "nan" for a rate over
// zero time, strconv reads "Inf") would make the results file fail to
// encode at the end of a whole run; a negative rate is a corrupt report.
package measure

import (
	"fmt"
	"math"
	"sort"
)

// Check returns an error naming the first field (in name order) whose
// value is not a measurement; tool prefixes the message.
func Check(tool string, fields map[string]float64) error {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := fields[n]; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("parse %s output: %s is %v, not a measurement (finite, not negative)", tool, n, v)
		}
	}
	return nil
}
