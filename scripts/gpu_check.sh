#!/usr/bin/env bash
# The GPU checks of TPT and MEMO (issues 5 and 6) as one prepared run for a lent device machine, which has no Go
# toolchain and no network, and takes a working tree of at most 64 MiB.
#
#   bash scripts/gpu_check.sh build     # here (Go, cgo): stripped, xz-compressed binaries into .devbin/ (~25 MB)
#   bash scripts/gpu_check.sh run       # on the device machine, from the repository root, results into $OUT
#
# With the device tool: run(command="bash scripts/gpu_check.sh run", carry=[".devbin"], timeout_s=560).
# .devbin/ must be ignored by git (.gitignore lists it). `run` writes to $OUT (at most 8 files come back):
#   doctor.txt   gotta doctor (backend, plugin, GPU)
#   tests.txt    tta/tpt, tta/memo, tta/ensemble golden tests on XLA with TF32 off (NVIDIA_TF32_OVERRIDE=0: f32
#                matmuls on the H100 otherwise use TF32, ~1e-3 relative, beyond the golden tolerances)
#   bench.txt    gotta bench tpt (RN50 host and device views, ViT-B/16, RN50 bf16) and gotta bench memo (ResNet-50,
#                ResNeXt-50): ms per example per phase, compile, images/s, peak host memory
# GPU_CHECK_QUICK=1 runs a few tests and the --tiny benchmarks (to try the script on a CPU: GOMLX_BACKEND=go).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.devbin
pkgs=(tpt memo ensemble)

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
	testargs=(-test.count=1 -test.v)
	[ -n "$quick" ] && testargs+=(-test.short -test.run 'TestOriginalTPT|TestOriginalMEMO|TestJointStep')
	for p in "${pkgs[@]}"; do
		echo "=== tta/$p ($(date +%T))"
		start=$SECONDS
		(cd "tta/$p" && NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS=--xla_gpu_enable_triton_gemm=false \
			timeout 150 "$work/$p.test" "${testargs[@]}" 2>&1 | grep -v -E '^=== (RUN|PAUSE|CONT)')
		echo "exit ${PIPESTATUS[0]}; $((SECONDS - start)) s"
	done >"$out/tests.txt" 2>&1

	tiny=()
	[ -n "$quick" ] && tiny=(--tiny --iters 2 --views 8)
	{
		for args in "tpt --arch RN50" "tpt --arch RN50 --device-views" "tpt --arch ViT-B/16" "tpt --arch RN50 --dtype bf16" \
			"memo --arch resnet50" "memo --arch resnext50_32x4d"; do
			echo "=== gotta bench $args ($(date +%T))"
			# shellcheck disable=SC2086
			timeout 100 "$work/gotta" bench $args --iters 10 "${tiny[@]}" 2>&1
			echo "exit $?"
		done
	} >"$out/bench.txt" 2>&1
	tail -n 3 "$out/tests.txt"
	grep -E '^(===|\| (views|image|text|prediction|total|compute|MEMO|crop|MC))' "$out/bench.txt"
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
