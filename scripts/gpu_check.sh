#!/usr/bin/env bash
# The GPU checks of TPT and MEMO as one prepared run for a lent device machine, which has no Go toolchain and no
# network, and takes a working tree of at most 64 MiB. Benchmarks first, each section written to $OUT as it finishes
# (a timeout loses only the section it interrupts), then the golden tests with -short.
#
#   bash scripts/gpu_check.sh build     # here (Go, cgo): stripped, xz-compressed binaries into .devbin/ (~25 MB)
#   bash scripts/gpu_check.sh run       # on the device machine, from the repository root, results into $OUT
#   python3 scripts/gpu_table.py OUTDIR # here, afterwards: the GPU table of README.md from OUTDIR's files
#
# With the device tool: run(command="bash scripts/gpu_check.sh run", carry=[".devbin"], timeout_s=560).
# XLA's GPU caches go to $GOTTA_HOME/cache/xla (a fresh machine starts empty: the first section pays autotuning).
# .devbin/ must be ignored by git (.gitignore lists it). `run` writes to $OUT:
#   doctor.txt   gotta doctor (backend, plugin, GPU) and nvidia-smi
#   bench.txt    gotta bench tpt (RN50 and ViT-B/16 f32 / bf16, host and device views, 200 and 1000 classes, B=1 and,
#                with --batch-examples, B=8) and gotta bench memo (ResNet-50 f32 / bf16): ms per example per phase,
#                compile, images/s, device memory (PJRT peak; the client does not preallocate)
#   twin.txt     scripts/torch_twin.py: PyTorch's official TPT (fp16 autocast) and MEMO (fp32) on the same shapes
#   tests.txt    tta/tpt and tta/memo golden tests (-short) on XLA with TF32 off (NVIDIA_TF32_OVERRIDE=0:
#                f32 matmuls on the H100 otherwise use TF32, ~1e-3 relative, beyond the golden tolerances)
# GPU_CHECK_QUICK=1 runs a few tests and the --tiny benchmarks (to try the script on a CPU: GOMLX_BACKEND=go).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.devbin
pkgs=(tpt memo) # ensemble too would pass the 64 MiB the device takes with the tree

build() {
	set -e
	export GOFLAGS=-mod=mod CGO_ENABLED=1
	rm -rf "$bin" && mkdir -p "$bin" # only what run needs travels
	go build -ldflags='-s -w' -o "$bin/gotta" ./cmd/gotta
	for p in "${pkgs[@]}"; do
		go test -c -ldflags='-s -w' -o "$bin/$p.test" "./tta/$p"
	done
	for f in gotta "${pkgs[@]/%/.test}"; do
		xz -9 -T0 -f "$bin/$f"
	done
	du -ch "$bin"/*.xz | tail -1
	echo "tracked files: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes (the device takes 64 MiB in all)"
}

run() {
	out=${OUT:-/tmp/gpu_check_out}
	mkdir -p "$out"
	work=$(mktemp -d)
	for f in gotta "${pkgs[@]/%/.test}"; do
		python3 -c 'import lzma,sys; open(sys.argv[2],"wb").write(lzma.open(sys.argv[1]).read())' "$bin/$f.xz" "$work/$f"
		chmod +x "$work/$f"
	done
	# The test binaries carry OpenAI's vocabulary (embedded in tta/clip/tokenizer); fixtures come with the tree.
	if [ -z "${GOMLX_BACKEND:-}" ]; then
		plugin=$(python3 -c 'import jax_plugins.xla_cuda13 as m,os;print(os.path.dirname(m.__file__))')/xla_cuda_plugin.so
		export GOMLX_BACKEND=xla:$plugin
	fi
	export GOMLX_NO_AUTO_INSTALL=1
	"$work/gotta" doctor >"$out/doctor.txt" 2>&1
	nvidia-smi >>"$out/doctor.txt" 2>&1

	quick=${GPU_CHECK_QUICK:-}
	tiny=()
	twin=()
	[ -n "$quick" ] && tiny=(--tiny --iters 2 --views 8) && twin=(--tiny --iters 2 --views 8)
	# The matrix: RN50 and ViT-B/16, f32 and bf16, B=1 and B>1 (when this gotta has --batch-examples), 200 and 1000
	# classes, host and device views; MEMO (ResNet-50) f32 and bf16. Budget: 9 x 35 s + 3 x 30 s (twin) + 2 x 35 s
	# (tests) = 475 s, within one 600 s device call with the unpacking and doctor.
	limit=${GPU_CHECK_BENCH_TIMEOUT:-35}
	runs=("tpt --arch RN50" "tpt --arch RN50 --dtype bf16" "tpt --arch RN50 --device-views"
		"tpt --arch ViT-B/16" "tpt --arch ViT-B/16 --dtype bf16" "tpt --arch RN50 --classes 1000"
		"memo --arch resnet50" "memo --arch resnet50 --dtype bf16")
	if "$work/gotta" bench tpt --help 2>&1 | grep -q -- '--batch-examples'; then
		runs+=("tpt --arch RN50 --dtype bf16 --batch-examples 8")
	else
		runs+=("tpt --arch ViT-B/16 --classes 1000")
		echo "=== no --batch-examples in this gotta: B>1 not measured" >>"$out/bench.txt"
	fi
	for args in "${runs[@]}"; do
		echo "=== gotta bench $args ($(date +%T))"
		# shellcheck disable=SC2086
		timeout "$limit" "$work/gotta" bench $args --iters 10 "${tiny[@]}" 2>&1
		echo "exit $?"
	done >>"$out/bench.txt" 2>&1
	grep -E '^(===|exit|compile|peak|\| (image|text|prediction|compute|MEMO adapt|MEMO total))' "$out/bench.txt"

	if python3 -c 'import torch' 2>/dev/null; then
		for args in "tpt --arch RN50" "tpt --arch ViT-B/16" "memo --arch resnet50"; do
			echo "=== torch twin $args ($(date +%T))"
			# shellcheck disable=SC2086
			timeout 30 python3 scripts/torch_twin.py $args --iters 10 "${twin[@]}" 2>&1
			echo "exit $?"
		done >>"$out/twin.txt" 2>&1
	else
		echo "no PyTorch on this machine: no twin" >"$out/twin.txt"
	fi
	grep -E '^(===|exit|\| torch twin)' "$out/twin.txt"

	testargs=(-test.count=1 -test.v -test.short)
	[ -n "$quick" ] && testargs+=(-test.run 'TestOriginalTPT|TestOriginalMEMO|TestJointStep')
	for p in "${pkgs[@]}"; do
		echo "=== tta/$p ($(date +%T))"
		start=$SECONDS
		(cd "tta/$p" && NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS=--xla_gpu_enable_triton_gemm=false \
			timeout 35 "$work/$p.test" "${testargs[@]}" 2>&1 | grep -v -E '^=== (RUN|PAUSE|CONT)')
		echo "exit ${PIPESTATUS[0]}; $((SECONDS - start)) s"
	done >>"$out/tests.txt" 2>&1
	grep -E '^(===|exit|--- FAIL|ok|FAIL)' "$out/tests.txt"
	rm -rf "$work"
}

case "${1:-}" in
build) build ;;
run) run ;;
*)
	echo "usage: bash scripts/gpu_check.sh build|run" >&2
	exit 2
	;;
esac
