//go:build !amd64

package knn

func dotRows(q, x []float32, out []float32) { dotRowsGo(q, x, out) }
