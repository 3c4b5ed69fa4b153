package scenarios

import (
	"fmt"
	"sort"
)

// all is filled by the scenario files of this package.
var all []Scenario

// All returns every scenario, sorted by name.
func All() []Scenario {
	out := append([]Scenario(nil), all...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the scenario called name.
func Get(name string) (Scenario, error) {
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, 0, len(all))
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (available: %v)", name, names)
}

// DefaultName is the scenario `dfctl demo` runs without an argument.
const DefaultName = "order-retries"
