package models

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// vggBlocks are VGG16's convolution widths, block by block (configuration D
// of Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
// Image Recognition", 2014).
var vggBlocks = [][]int{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}

// VGGOptions are the tutorial's steps up its ladder.
type VGGOptions struct {
	BatchNorm bool // BatchNorm2d after each block's last ReLU, before its MaxPool
	// ConvBN puts a BatchNorm2d between every convolution and its ReLU
	// instead (torchvision's vgg16_bn). With a norm only every two or three
	// convolutions, as the tutorial has it, Adam above 1e-4 diverges from
	// scratch; normalising every layer trained at 3e-4, and at 1e-3 with
	// the GAP head (docs/EXPERIMENTS.md).
	ConvBN  bool
	Dropout bool // Dropout(0.5) after block 5, before the pooling
	Light   bool // a single Linear(25088, classes) instead of 25088-4096-4096-classes
	// GAP averages the last block's map to one value per channel and feeds
	// a single Linear(512, classes), instead of the 7x7 pooling. Below 224
	// pixels that pooling repeats the last map's few cells (2x2 at 64) to
	// fill 7x7, so the light head sees 25,088 inputs with 12 copies of
	// each; a step of Adam or SGD moves every one of them and the logits
	// jump, which is why that head needs the tutorial's 1e-4.
	GAP bool
	// Width scales every convolution's channel count (0 means 1): VGG16's
	// 15 million convolution weights were sized for 1.2 million ImageNet
	// photos, and a narrower net trains several times faster and overfits
	// less on a thousand. The head's input shrinks with the last block.
	Width float64
}

// MaxWidth bounds VGGOptions.Width: wider than twice VGG16 is beyond any
// machine starid targets.
const MaxWidth = 2.0

// scaled is a channel count times width, at least one channel.
func scaled(ch int, width float64) int {
	if width == 0 {
		return ch
	}
	return max(1, int(math.Round(float64(ch)*width)))
}

// VGG16 builds the tutorial's self-made VGG16 for the given options. Layer
// order and names follow the PyTorch reference (block1..block5, drop,
// avgpool, classifier) so state_dict names match.
func VGG16(name string, classes int, o VGGOptions) Spec {
	var layers []LayerSpec
	in := 3
	for b, widths := range vggBlocks {
		var block []LayerSpec
		for _, w := range widths {
			w = scaled(w, o.Width)
			block = append(block, LayerSpec{Name: strconv.Itoa(len(block)), Kind: KindConv2d, In: in, Out: w, Kernel: 3, Stride: 1, Padding: 1})
			if o.ConvBN {
				block = append(block, LayerSpec{Name: strconv.Itoa(len(block)), Kind: KindBatchNorm2d, In: w})
			}
			// In place is safe: a convolution's (or batch norm's) backward
			// pass reads its input, never its output, and it saves one
			// activation per conv.
			block = append(block, LayerSpec{Name: strconv.Itoa(len(block)), Kind: KindReLU, Inplace: true})
			in = w
		}
		if o.BatchNorm && !o.ConvBN {
			block = append(block, LayerSpec{Name: strconv.Itoa(len(block)), Kind: KindBatchNorm2d, In: in})
		}
		block = append(block, LayerSpec{Name: strconv.Itoa(len(block)), Kind: KindMaxPool2d, Kernel: 2, Stride: 2})
		layers = append(layers, LayerSpec{Name: fmt.Sprintf("block%d", b+1), Kind: KindSequential, Children: block})
	}
	if o.Dropout {
		layers = append(layers, LayerSpec{Name: "drop", Kind: KindDropout, P: 0.5})
	} else {
		layers = append(layers, LayerSpec{Name: "drop", Kind: KindIdentity})
	}
	// AdaptiveAvgPool(7,7) is the identity at 224x224 and is what lets 112
	// and 64 pixel inputs reach the 512*7*7 classifier.
	pool := 7
	if o.GAP {
		pool = 1
	}
	layers = append(layers,
		LayerSpec{Name: "avgpool", Kind: KindAdaptiveAvgPool2d, OutH: pool, OutW: pool},
		LayerSpec{Name: "flatten", Kind: KindFlatten})
	var head []LayerSpec
	if o.GAP {
		head = []LayerSpec{{Name: "0", Kind: KindLinear, In: in, Out: classes}}
	} else if o.Light {
		head = []LayerSpec{{Name: "0", Kind: KindLinear, In: in * 7 * 7, Out: classes}}
	} else {
		head = []LayerSpec{
			{Name: "0", Kind: KindLinear, In: in * 7 * 7, Out: 4096},
			{Name: "1", Kind: KindReLU, Inplace: true},
			{Name: "2", Kind: KindLinear, In: 4096, Out: 4096},
			{Name: "3", Kind: KindReLU, Inplace: true},
			{Name: "4", Kind: KindLinear, In: 4096, Out: classes},
		}
	}
	layers = append(layers, LayerSpec{Name: "classifier", Kind: KindSequential, Children: head})
	return Spec{Name: name, InChannels: 3, Classes: classes, Layers: layers}
}

// registry maps the command-line model names to the tutorial's ladder.
var registry = map[string]VGGOptions{
	"vgg16":                  {},
	"vgg16-bn":               {BatchNorm: true},
	"vgg16-bn-dropout":       {BatchNorm: true, Dropout: true},
	"vgg16-bn-dropout-light": {BatchNorm: true, Dropout: true, Light: true},
	// Beyond the tutorial's ladder: its best model with a norm after every
	// convolution, for training from scratch at higher learning rates.
	"vgg16-convbn-dropout-light": {ConvBN: true, Dropout: true, Light: true},
	// ... and with a global-average-pooled head for small inputs.
	"vgg16-convbn-dropout-gap": {ConvBN: true, Dropout: true, GAP: true},
}

// Names lists the image-model names ByName accepts, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(registry))
}

// ByName returns the Spec for a model name and class count.
func ByName(name string, classes int) (Spec, error) { return ByNameWidth(name, classes, 1) }

// ByNameWidth is ByName with the convolution widths scaled by width (see
// VGGOptions.Width); width 1 is the tutorial's network.
func ByNameWidth(name string, classes int, width float64) (Spec, error) {
	o, ok := registry[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown model %q (known: %v)", name, Names())
	}
	if classes < 1 {
		return Spec{}, fmt.Errorf("model %s: need at least one class, got %d", name, classes)
	}
	if !(width > 0 && width <= MaxWidth) {
		return Spec{}, fmt.Errorf("model %s: width %v must be above 0 and at most %v", name, width, MaxWidth)
	}
	o.Width = width
	return VGG16(name, classes, o), nil
}

// IsImageModel reports whether name is one of the VGG family.
func IsImageModel(name string) bool { return slices.Contains(Names(), name) }
