package nn

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"starid/internal/tensor"
)

// SummaryRow is one layer of a model summary (torchinfo's table).
type SummaryRow struct {
	Name        string `json:"name"`         // dotted path, e.g. "block1.0"
	Type        string `json:"type"`         // the layer's String()
	Depth       int    `json:"depth"`        // nesting level, 0 for top-level children
	OutputShape []int  `json:"output_shape"` // for the summary's input shape
	Params      int    `json:"params"`       // parameters owned directly or by children
	Container   bool   `json:"container,omitempty"`
}

// Summary is what `starid summary` prints.
type Summary struct {
	InputShape      []int        `json:"input_shape"`
	OutputShape     []int        `json:"output_shape"`
	TotalParams     int          `json:"total_params"`
	TrainableParams int          `json:"trainable_params"`
	Layers          []SummaryRow `json:"layers"`
}

// Summarize walks model for an input shape without running it: shapes come
// from OutputShape, so a 224x224 VGG16 summary costs no forward pass.
func Summarize(model Layer, input []int) (*Summary, error) {
	s := &Summary{InputShape: append([]int(nil), input...)}
	var walk func(prefix string, depth int, l Layer, in []int) ([]int, error)
	walk = func(prefix string, depth int, l Layer, in []int) ([]int, error) {
		c, isContainer := l.(Container)
		if !isContainer {
			out, err := l.OutputShape(in)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", prefix, err)
			}
			n, _ := CountParams(l)
			s.Layers = append(s.Layers, SummaryRow{Name: prefix, Type: l.String(), Depth: depth, OutputShape: out, Params: n})
			return out, nil
		}
		row := len(s.Layers)
		if prefix != "" {
			n, _ := CountParams(l)
			s.Layers = append(s.Layers, SummaryRow{Name: prefix, Type: l.String(), Depth: depth, Params: n, Container: true})
		}
		names, layers := c.Children()
		var err error
		for i, child := range layers {
			name := names[i]
			if prefix != "" {
				name = prefix + "." + name
			}
			childDepth := depth + 1
			if prefix == "" {
				childDepth = 0
			}
			if in, err = walk(name, childDepth, child, in); err != nil {
				return nil, err // already names the leaf's full path
			}
		}
		if prefix != "" {
			s.Layers[row].OutputShape = in
		}
		return in, nil
	}
	out, err := walk("", 0, model, input)
	if err != nil {
		return nil, err
	}
	s.OutputShape = out
	s.TotalParams, s.TrainableParams = CountParams(model)
	return s, nil
}

// WriteTable prints the summary as an aligned table with thousands
// separators, like torchinfo.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Layer (name: type)\tOutput shape\t%12s\n", "Params")
	for _, r := range s.Layers {
		label := strings.Repeat("  ", r.Depth) + r.Name + ": " + r.Type
		fmt.Fprintf(tw, "%s\t%s\t%12s\n", label, tensor.ShapeString(r.OutputShape), Thousands(r.Params))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Input shape: %s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n",
		tensor.ShapeString(s.InputShape), Thousands(s.TotalParams), Thousands(s.TrainableParams),
		Thousands(s.TotalParams-s.TrainableParams))
	return err
}

// Thousands formats n with comma separators: 134,330,193.
func Thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
