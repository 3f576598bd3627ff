package nvm

import "sort"

// ChangedKeys lists, sorted, the records that differ between two encoded
// images (added, changed or removed). A nil image is a blank medium. It is
// meant for tests that check what a command wrote.
func ChangedKeys(before, after []byte) ([]string, error) {
	decode := func(raw []byte) (map[string][]byte, error) {
		if raw == nil {
			return nil, nil
		}
		img, err := DecodeImage(raw)
		return img.Records, err
	}
	a, err := decode(before)
	if err != nil {
		return nil, err
	}
	b, err := decode(after)
	if err != nil {
		return nil, err
	}
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || string(w) != string(v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
