// Package tda is TDA, the training-free dynamic adapter, as a tta.Online adapter.
package tda
