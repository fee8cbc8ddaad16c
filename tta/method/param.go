package method

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Param is one parameter of a method: its key (the command line's flag name, dashed: "views", "weight-decay"), its
// default and what it means. Every number has a range (Min, Max) and every string either Choices or a Check; Resolve
// rejects values outside them. A value of 0 means 0: there are no sentinel values.
type Param struct {
	// Key is the parameter's name: a flag name, lower case with dashes.
	Key string
	// Default is the paper's value (the method's own default where the paper has none); its dynamic type, int,
	// float64, bool or string, is the parameter's type.
	Default any
	// Doc says what the parameter does, for --help; one line, without the default (it is printed beside).
	Doc string
	// Min and Max bound an int or float64 parameter; nil means unbounded on that side.
	Min, Max *Bound
	// Choices are the allowed values of a string parameter (nil: any string that Check accepts).
	Choices []string
	// Check, when set, validates a value of the parameter's type (after the range and choices).
	Check func(v any) error
}

// Bound is one end of a numeric range.
type Bound struct {
	// Value is the bound.
	Value float64
	// Open excludes Value itself (Min: v > Value; Max: v < Value).
	Open bool
}

// Int returns an int parameter.
func Int(key string, def int, doc string) Param { return Param{Key: key, Default: def, Doc: doc} }

// Float returns a float64 parameter (finite values only).
func Float(key string, def float64, doc string) Param { return Param{Key: key, Default: def, Doc: doc} }

// Bool returns a bool parameter.
func Bool(key string, def bool, doc string) Param { return Param{Key: key, Default: def, Doc: doc} }

// String returns a string parameter.
func String(key, def, doc string) Param { return Param{Key: key, Default: def, Doc: doc} }

// AtLeast returns p with the lower bound v <= value.
func (p Param) AtLeast(v float64) Param { p.Min = &Bound{Value: v}; return p }

// Above returns p with the lower bound v < value.
func (p Param) Above(v float64) Param { p.Min = &Bound{Value: v, Open: true}; return p }

// AtMost returns p with the upper bound value <= v.
func (p Param) AtMost(v float64) Param { p.Max = &Bound{Value: v}; return p }

// Below returns p with the upper bound value < v.
func (p Param) Below(v float64) Param { p.Max = &Bound{Value: v, Open: true}; return p }

// OneOf returns p with the allowed string values.
func (p Param) OneOf(choices ...string) Param { p.Choices = choices; return p }

// Checked returns p with a validation function.
func (p Param) Checked(check func(v any) error) Param { p.Check = check; return p }

// kind is the parameter's type name: "int", "float", "bool" or "string".
func (p Param) kind() string {
	switch p.Default.(type) {
	case int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", p.Default)
}

// RangeString is the parameter's valid range, e.g. "0 < select <= 1", "views >= 1", "one of cut, augmix"; "" when
// any value of its type is valid.
func (p Param) RangeString() string {
	if len(p.Choices) > 0 {
		return "one of " + strings.Join(p.Choices, ", ")
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	lo, hi := "", ""
	if p.Min != nil {
		lo = num(p.Min.Value) + " <= "
		if p.Min.Open {
			lo = num(p.Min.Value) + " < "
		}
	}
	if p.Max != nil {
		hi = " <= " + num(p.Max.Value)
		if p.Max.Open {
			hi = " < " + num(p.Max.Value)
		}
	}
	switch {
	case lo != "" && hi != "":
		return lo + p.Key + hi
	case lo != "":
		// "views >= 1" reads better than "1 <= views".
		op := ">="
		if p.Min.Open {
			op = ">"
		}
		return fmt.Sprintf("%s %s %s", p.Key, op, num(p.Min.Value))
	case hi != "":
		return p.Key + hi
	}
	return ""
}

// normalize converts v to the parameter's type (an integral float64 or a json.Number to an int, an int to a
// float64) and validates it.
func (p Param) normalize(v any) (any, error) {
	var out any
	switch p.Default.(type) {
	case int:
		switch x := v.(type) {
		case int:
			out = x
		case int64:
			out = int(x)
		case int32:
			out = int(x)
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1<<53 {
				return nil, fmt.Errorf("%s %v: want an integer", p.Key, x)
			}
			out = int(x)
		case json.Number:
			i, err := strconv.Atoi(string(x))
			if err != nil {
				return nil, fmt.Errorf("%s %s: want an integer", p.Key, x)
			}
			out = i
		default:
			return nil, fmt.Errorf("%s %v: want an integer, got %T", p.Key, v, v)
		}
	case float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		case int:
			f = float64(x)
		case int64:
			f = float64(x)
		case json.Number:
			var err error
			if f, err = x.Float64(); err != nil {
				return nil, fmt.Errorf("%s %s: want a number", p.Key, x)
			}
		default:
			return nil, fmt.Errorf("%s %v: want a number, got %T", p.Key, v, v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s %v: want a finite number", p.Key, f)
		}
		out = f
	case bool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s %v: want true or false, got %T", p.Key, v, v)
		}
		out = b
	case string:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s %v: want a string, got %T", p.Key, v, v)
		}
		out = s
	default:
		return nil, fmt.Errorf("%s: the parameter's default %v (%T) is not an int, float64, bool or string", p.Key,
			p.Default, p.Default)
	}
	if err := p.validate(out); err != nil {
		return nil, err
	}
	return out, nil
}

// validate checks a value of the parameter's type against its range, choices and Check.
func (p Param) validate(v any) error {
	var f float64
	isNum := true
	switch x := v.(type) {
	case int:
		f = float64(x)
	case float64:
		f = x
	default:
		isNum = false
	}
	if isNum {
		ok := true
		if p.Min != nil && (f < p.Min.Value || (p.Min.Open && f == p.Min.Value)) {
			ok = false
		}
		if p.Max != nil && (f > p.Max.Value || (p.Max.Open && f == p.Max.Value)) {
			ok = false
		}
		if !ok {
			return fmt.Errorf("%s %v: want %s", p.Key, v, p.RangeString())
		}
	}
	if s, isStr := v.(string); isStr && len(p.Choices) > 0 && !slices.Contains(p.Choices, s) {
		return fmt.Errorf("%s %q: want %s", p.Key, s, p.RangeString())
	}
	if p.Check != nil {
		if err := p.Check(v); err != nil {
			return fmt.Errorf("%s %v: %w", p.Key, v, err)
		}
	}
	return nil
}

// Values are a method's parameter values by key. After Spec.Resolve every parameter of the spec is present with its
// type, so the getters only fail on a programmer's error (a key the spec does not have, or the wrong getter).
type Values map[string]any

// Int returns the int parameter key; it panics when key is missing or not an int.
func (v Values) Int(key string) int { return get[int](v, key) }

// Float returns the float64 parameter key; it panics when key is missing or not a float64.
func (v Values) Float(key string) float64 { return get[float64](v, key) }

// Bool returns the bool parameter key; it panics when key is missing or not a bool.
func (v Values) Bool(key string) bool { return get[bool](v, key) }

// String returns the string parameter key; it panics when key is missing or not a string.
func (v Values) String(key string) string { return get[string](v, key) }

func get[T any](v Values, key string) T {
	x, ok := v[key]
	if !ok {
		panic(fmt.Sprintf("method: no parameter %q in %v", key, v))
	}
	t, ok := x.(T)
	if !ok {
		var zero T
		panic(fmt.Sprintf("method: parameter %q is %T, not %T", key, x, zero))
	}
	return t
}

// With returns a copy of v with key set to x.
func (v Values) With(key string, x any) Values {
	out := make(Values, len(v)+1)
	for k, y := range v {
		out[k] = y
	}
	out[key] = x
	return out
}

// Format is the values as "key=value" pairs sorted by key, for logs and errors.
func (v Values) Format() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, v[k])
	}
	return strings.Join(parts, " ")
}
