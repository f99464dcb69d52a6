package knnlm

import "time"

var clockStart = time.Now()

// nowSeconds is a monotonic clock in seconds.
func nowSeconds() float64 { return time.Since(clockStart).Seconds() }
