// Package fake makes the realistic-looking but made-up data of the example
// scenarios: identifiers derived from their inputs, so that the same inputs
// always give the same IDs and no network or randomness is involved.
package fake

import (
	"fmt"
	"hash/fnv"
	"time"
)

// ID returns prefix + "_" + 12 hex digits derived from parts.
func ID(prefix string, parts ...any) string {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return fmt.Sprintf("%s_%012x", prefix, h.Sum64()&0xffffffffffff)
}

// Carrier picks a carrier for a destination key.
func Carrier(key string) string {
	carriers := []string{"UPS", "FedEx", "DHL", "USPS"}
	h := fnv.New32a()
	h.Write([]byte(key))
	return carriers[h.Sum32()%uint32(len(carriers))]
}

// EstimatedDelivery is the delivery date quoted for a shipment handed over at
// from: three business days later, as YYYY-MM-DD. Activities may read the
// clock; workflows pass workflow.Now.
func EstimatedDelivery(from time.Time) string {
	d := from
	for n := 0; n < 3; {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return d.Format("2006-01-02")
}
