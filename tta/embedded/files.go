package embedded

// File names of the embedded weights (in weights/ of this package, and written by `gotta train-embedded`).
const (
	// CLIPFile is the embedded CLIP, OpenAI state-dict names, with the vocabulary in its metadata.
	CLIPFile = "clip_mnist.safetensors"
	// ResNetFile is the embedded ResNet, torchvision state-dict names.
	ResNetFile = "resnet_mnist.safetensors"
)
