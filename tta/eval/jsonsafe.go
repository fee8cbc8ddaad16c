package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// Non-finite numbers in JSON. JSON has no NaN or infinity: Record's Float fields are written as null (read back as
// NaN); a configuration value that is not finite (e.g. a learning rate of NaN) is written as the string "NaN",
// "+Inf" or "-Inf" (NonFinite), so a record is always written and a configuration still compares equal on resume.

// NonFinite returns the string a non-finite configuration value is written as: "NaN", "+Inf" or "-Inf".
func NonFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "+Inf"
	}
	return "-Inf"
}

// JSONSafe returns v as generic JSON values (maps, slices, strings, float64, bools, nil) with every NaN or infinite
// number replaced by NonFinite's string, so that json.Marshal never fails on it. Struct fields follow their json
// tag names.
func JSONSafe(v any) any {
	if v == nil {
		return nil
	}
	if _, err := json.Marshal(v); err == nil {
		var out any
		data, _ := json.Marshal(v)
		_ = json.Unmarshal(data, &out)
		return out
	}
	return safeValue(reflect.ValueOf(v), 0)
}

func safeValue(v reflect.Value, depth int) any {
	if depth > 64 {
		return "..."
	}
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return safeValue(v.Elem(), depth+1)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return NonFinite(f)
		}
		return f
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = safeValue(it.Value(), depth+1)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = safeValue(v.Index(i), depth+1)
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				tn, _, _ := strings.Cut(tag, ",")
				if tn == "-" {
					continue
				}
				if tn != "" {
					name = tn
				}
			}
			out[name] = safeValue(v.Field(i), depth+1)
		}
		return out
	}
	if v.CanInterface() {
		if data, err := json.Marshal(v.Interface()); err == nil {
			var out any
			if json.Unmarshal(data, &out) == nil {
				return out
			}
		}
		return fmt.Sprint(v.Interface())
	}
	return nil
}
