package bench

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"starid/internal/cpu"
	"starid/internal/faces"
	"starid/internal/tensor"
)

// Build is `starid version --json`: what this binary is and what it runs
// on here.
type Build struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	Go          string `json:"go"`
	Backend     string `json:"gemm_backend"`
	Kernel      string `json:"gemm_kernel"`
	KernelLevel string `json:"gemm_level"`
	CPU         string `json:"cpu"`
	FaceModels  string `json:"face_models"`
	Pipeline    string `json:"face_pipeline"`
	ModelsDir   string `json:"face_models_dir,omitempty"`
	ModelsError string `json:"face_models_error,omitempty"`
}

// About reads what this binary is and runs on: the build info Go records,
// and what tensor and cpu detect now. commit is the fallback for builds
// without version-control stamping ("" if unknown).
func About(commit string) Build {
	v := Build{Version: "(devel)", Commit: commit, Go: runtime.Version(), Backend: tensor.Backend,
		Kernel: tensor.KernelFamily(), KernelLevel: tensor.KernelLevel().String(), CPU: cpu.Describe(),
		FaceModels: faces.PackageSpec, Pipeline: faces.PipelineVersion}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && v.Commit != "" {
			v.Commit += " (modified)"
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown (built without version control stamping)"
	}
	if dir, err := faces.ModelDir(); err != nil {
		v.ModelsError = err.Error()
	} else {
		v.ModelsDir = dir
	}
	return v
}

// WriteText is the human form, one fact a line.
func (v Build) WriteText(w io.Writer) error {
	where := "in " + v.ModelsDir
	if v.ModelsDir == "" {
		where = "not usable: " + v.ModelsError
	}
	_, err := fmt.Fprintf(w, "starid %s\ncommit: %s\ngo: %s\ngemm: %s, kernels %s, level %s\ncpu: %s\nface models: %s, pipeline %s, %s\n",
		v.Version, v.Commit, v.Go, v.Backend, v.Kernel, v.KernelLevel, v.CPU, v.FaceModels, v.Pipeline, where)
	return err
}
