package weights

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A safetensors `__metadata__` maps strings to strings, but writers spell the values two ways: plainly ("12",
// "3,4,6,3", "RN") or as the JSON text of the value (json.dumps of every config field: "12", "[3, 4, 6, 3]",
// "\"RN\"", "true", and "null" for a field that does not apply to the model). MetadataInt, MetadataInts and
// MetadataString read either form; "null" reads as absent. Their errors name the key and the value.

// metadataValue returns md[key] with surrounding white space removed, one level of JSON string quoting undone
// ("\"RN\"" -> "RN"), and ok false when the key is absent or its value is JSON null.
func metadataValue(md map[string]string, key string) (v string, ok bool, err error) {
	raw, ok := md[key]
	if !ok {
		return "", false, nil
	}
	v = strings.TrimSpace(raw)
	if v == "null" {
		return "", false, nil
	}
	if strings.HasPrefix(v, `"`) {
		if err := json.Unmarshal([]byte(v), &v); err != nil {
			return "", false, fmt.Errorf("__metadata__ %s=%q is not a valid JSON string: %w", key, raw, err)
		}
		v = strings.TrimSpace(v)
	}
	return v, true, nil
}

// parseMetadataInt reads one integer: decimal ("12", "-3") or a JSON number of integral value ("12.0", "1e2").
func parseMetadataInt(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	var num json.Number
	if err := json.Unmarshal([]byte(s), &num); err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	f, err := num.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int(f), nil
}

// MetadataInt reads the integer md[key]: "12", or in JSON form "12", "12.0", "\"12\"". ok is false when the key is
// absent or its value is "null"; anything else (a list, a boolean, a fraction, text) is an error naming the key.
func MetadataInt(md map[string]string, key string) (n int, ok bool, err error) {
	v, ok, err := metadataValue(md, key)
	if !ok || err != nil {
		return 0, false, err
	}
	if n, err = parseMetadataInt(v); err != nil {
		return 0, false, fmt.Errorf("__metadata__ %s=%q: %w", key, md[key], err)
	}
	return n, true, nil
}

// MetadataInts reads the integer list md[key]: comma-separated ("3,4,6,3", "12") or a JSON list ("[3, 4, 6, 3]",
// "[12]"); a JSON number alone ("12") is a list of one. ok is false when the key is absent or its value is "null";
// an empty list or a non-integer element is an error naming the key.
func MetadataInts(md map[string]string, key string) (ns []int, ok bool, err error) {
	v, ok, err := metadataValue(md, key)
	if !ok || err != nil {
		return nil, false, err
	}
	var fields []string
	if strings.HasPrefix(v, "[") {
		var elems []json.RawMessage
		if err := json.Unmarshal([]byte(v), &elems); err != nil {
			return nil, false, fmt.Errorf("__metadata__ %s=%q is not a JSON list: %w", key, md[key], err)
		}
		for _, e := range elems {
			fields = append(fields, string(e))
		}
	} else {
		fields = strings.Split(v, ",")
	}
	if len(fields) == 0 {
		return nil, false, fmt.Errorf("__metadata__ %s=%q: empty list", key, md[key])
	}
	for i, f := range fields {
		n, err := parseMetadataInt(strings.TrimSpace(f))
		if err != nil {
			return nil, false, fmt.Errorf("__metadata__ %s=%q: element %d: %w", key, md[key], i, err)
		}
		ns = append(ns, n)
	}
	return ns, true, nil
}

// MetadataString reads the text md[key]: as written ("RN"), or JSON-quoted ("\"RN\""), white space trimmed. ok is
// false when the key is absent or its value is "null".
func MetadataString(md map[string]string, key string) (s string, ok bool, err error) {
	return metadataValue(md, key)
}
