package faces

import (
	"cmp"
	"slices"
)

// NMS is greedy non-maximum suppression as face-api's nonMaxSuppression
// does it with isIOU true: take the best-scoring remaining detection, drop
// every remaining one whose IoU with it exceeds iou (equal is kept), repeat.
// The result is best first. Among equal scores the one earlier in dets
// wins (the sort is stable), and NaN scores rank last. dets is not changed.
func NMS(dets []Detection, iou float64) []Detection {
	order := make([]int, len(dets))
	for i := range order {
		order[i] = i
	}
	// cmp.Compare orders NaN before every number, so comparing b with a
	// puts it last in the descending order.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(dets[b].Score, dets[a].Score) })
	keep := make([]Detection, 0, min(len(dets), 16))
	dropped := make([]bool, len(dets))
	for i, oi := range order {
		if dropped[i] {
			continue
		}
		best := dets[oi]
		keep = append(keep, best)
		for j := i + 1; j < len(order); j++ {
			if !dropped[j] && IoU(best.Box, dets[order[j]].Box) > iou {
				dropped[j] = true
			}
		}
	}
	return keep
}
