package study

import (
	"bufio"
	"encoding"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Table is the schema of a CSV artifact whose rows are of type R: one
// column per field of R tagged `csv:"NAME"` or `csv:"NAME,FORMAT"`, in the
// fields' order. Version numbers that column list; a file is read only when
// its header is exactly the columns, so a missing, extra or reordered
// column is an error naming the file and the column.
//
// Field types: string, int, bool, float64, *float64 (an empty cell is nil)
// and types implementing encoding.TextMarshaler and TextUnmarshaler (such
// as Layer). A float64 is written with 8 significant digits unless FORMAT
// says otherwise: "g" for the shortest exact representation, "fN" for N
// decimals.
type Table[R any] struct {
	// Name is the artifact's file name in a study directory.
	Name string
	// Version is the version of the column list.
	Version int
}

// column is one field of a row type.
type column struct {
	name  string
	field int
	fmt   byte // 'g' with prec, or 'f'
	prec  int
}

var (
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fields returns the columns of R from its struct tags.
func (t Table[R]) fields() []column {
	rt := reflect.TypeFor[R]()
	var cols []column
	for i := range rt.NumField() {
		tag, ok := rt.Field(i).Tag.Lookup("csv")
		if !ok {
			continue
		}
		name, format, _ := strings.Cut(tag, ",")
		c := column{name: name, field: i, fmt: 'g', prec: 8}
		switch {
		case format == "g":
			c.prec = -1
		case strings.HasPrefix(format, "f"):
			n, err := strconv.Atoi(format[1:])
			if err != nil {
				panic(fmt.Sprintf("study: bad format %q of column %s of %s", format, name, t.Name))
			}
			c.fmt, c.prec = 'f', n
		case format != "":
			panic(fmt.Sprintf("study: bad format %q of column %s of %s", format, name, t.Name))
		}
		cols = append(cols, c)
	}
	return cols
}

// header returns the table's column names.
func (t Table[R]) header() []string {
	var names []string
	for _, c := range t.fields() {
		names = append(names, c.name)
	}
	return names
}

// Write writes the header and rows to path, creating its directory.
func (t Table[R]) Write(path string, rows []R) error {
	cols := t.fields()
	return WriteFile(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(t.header()); err != nil {
			return err
		}
		rec := make([]string, len(cols))
		for _, r := range rows {
			v := reflect.ValueOf(r)
			for i, c := range cols {
				s, err := formatCell(v.Field(c.field), c)
				if err != nil {
					return fmt.Errorf("column %s: %w", c.name, err)
				}
				rec[i] = s
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// Read reads a file written by Write. The header must be the table's
// columns; every cell must parse as its field's type.
func (t Table[R]) Read(path string) ([]R, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := t.read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

func (t Table[R]) read(r io.Reader) ([]R, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("empty file, want the header of %s", t.describe())
	}
	if err != nil {
		return nil, err
	}
	if err := t.checkHeader(header); err != nil {
		return nil, err
	}
	cols := t.fields()
	var rows []R
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var row R
		v := reflect.ValueOf(&row).Elem()
		for i, c := range cols {
			if err := parseCell(v.Field(c.field), rec[i]); err != nil {
				return nil, fmt.Errorf("line %d, column %s: %w", line, c.name, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// describe names the schema in errors.
func (t Table[R]) describe() string {
	return fmt.Sprintf("%s schema version %d (%s)", t.Name, t.Version, strings.Join(t.header(), ","))
}

// checkHeader names the first missing, extra or misplaced column.
func (t Table[R]) checkHeader(header []string) error {
	want := t.header()
	if slices.Equal(header, want) {
		return nil
	}
	for _, c := range want {
		if !slices.Contains(header, c) {
			return fmt.Errorf("missing column %q (%s)", c, t.describe())
		}
	}
	for _, c := range header {
		if !slices.Contains(want, c) {
			return fmt.Errorf("extra column %q (%s)", c, t.describe())
		}
	}
	return fmt.Errorf("columns %s out of order (%s)", strings.Join(header, ","), t.describe())
}

func formatCell(v reflect.Value, c column) (string, error) {
	if v.Type().Implements(textMarshaler) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		return string(b), err
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), c.fmt, c.prec, 64), nil
	case reflect.Pointer:
		if v.IsNil() {
			return "", nil
		}
		return formatCell(v.Elem(), c)
	}
	return "", fmt.Errorf("unsupported type %s", v.Type())
}

func parseCell(v reflect.Value, s string) error {
	if v.Addr().Type().Implements(textUnmarshaler) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("bad integer %q", s)
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("bad boolean %q", s)
		}
		v.SetBool(b)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("bad number %q", s)
		}
		v.SetFloat(x)
	case reflect.Pointer:
		if s == "" {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := parseCell(p.Elem(), s); err != nil {
			return err
		}
		v.Set(p)
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// WriteFile writes an artifact through fn, creating its directory; errors
// name the path.
func WriteFile(path string, fn func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	if err := fn(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
