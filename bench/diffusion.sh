#!/usr/bin/env bash
# Stable Diffusion benchmarks, loupe next to PyTorch eager on the same
# threads, same run.
#
# UNet step: SD 1.5's UNet geometry (block_out_channels 320/640/1280/1280,
# layers_per_block 2, 8 heads, cross_attention_dim 768) with random float32
# weights, one denoising step at 512x512 (64x64 latents, batch 2: the
# negative and the positive prompt, 77 tokens). The weights are drawn by
# model/unet/testdata/unet_reference.py from one seed: written once as
# safetensors for loupe (3.4 GB in float32, 1.7 GB in float16, under
# $TMPDIR), rebuilt in memory from the same seed for PyTorch (the same
# reimplementation of diffusers' UNet2DConditionModel that the tests check
# loupe against). Both outputs are compared. Then loupe runs again on the
# float16 file (weights kept in float16, widened per layer) for its peak
# resident memory. Wall and CPU seconds are both printed: on a shared
# machine the wall time of either side depends on what else runs.
#
#   bench/diffusion.sh                    # 2 threads, 2 steps each
#   THREADS=1 STEPS=1 bench/diffusion.sh
#   KEEP=1 bench/diffusion.sh             # keep the weights directory
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
STEPS=${STEPS:-2}
REF=model/unet/testdata/unet_reference.py
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(grep -o 'avx512[a-z_0-9]*\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')), load: $(cut -d' ' -f1-3 /proc/loadavg)"
D=$(mktemp -d "${TMPDIR:-/tmp}/loupe-diffusion-bench.XXXXXX")
cleanup() { if [ -z "${KEEP:-}" ]; then rm -rf "$D"; else echo "kept $D"; fi; }
trap cleanup EXIT

sd15='"block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "attention_head_dim": 8, "cross_attention_dim": 768, "sample_size": 64'
for v in f32 f16; do
	mkdir -p "$D/$v"
	if [ $v = f32 ]; then dt='"dtype": "F32"'; else dt='"dtype": "F16", "file": "diffusion_pytorch_model.fp16.safetensors"'; fi
	cat >"$D/$v/case.json" <<JSON
{"config": {$sd15}, "batch": 2, "height": 64, "width": 64, "seq": 77, "timesteps": [981.0], "seed": 7, "input_seed": 8, "outputs": false, $dt}
JSON
done
df -h "$D" | tail -1 | awk '{print "disk free under " $6 ": " $4}'

echo "== UNet step, SD 1.5 geometry, 64x64 latents, batch 2, float32 weights, $THREADS threads, $STEPS steps each"
t0=$(date +%s)
/usr/bin/python3 $REF gen "$D/f32" >/dev/null
echo "weights written in $(( $(date +%s) - t0 )) s: $(du -sh "$D/f32/unet" | cut -f1)"
go build -o "$D/unetspeed" ./bench/unetspeed
loupe=$(GOMAXPROCS=$THREADS "$D/unetspeed" -dir "$D/f32" -steps "$STEPS" -out "$D/f32/loupe_out.npy")
echo "loupe:   $loupe"
torch=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS THREADS=$THREADS STEPS=$STEPS /usr/bin/python3 $REF bench "$D/f32")
echo "pytorch: $torch"
/usr/bin/python3 - "$D/f32" "$loupe" "$torch" <<'PY'
import json, sys
import numpy as np
d, lo, to = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
a, b = np.load(d + "/loupe_out.npy"), np.load(d + "/torch_out.npy")
scale = float(np.abs(b).max())
print("outputs: max abs diff %.3g, %.3g of the output scale %.3g" % (float(np.abs(a - b).max()), float(np.abs(a - b).max()) / scale, scale))
ls, ts = min(lo["seconds"]), min(to["seconds"])
print("UNet step (best of %d): loupe %.2f s, PyTorch %.2f s (torch threads %d), ratio %.2fx" % (len(lo["seconds"]), ls, ts, to["torch_threads"], ts / ls))
lc, tc = min(lo["cpu_seconds"]), min(to["cpu_seconds"])
print("CPU time per step (all threads, less sensitive to a shared machine): loupe %.1f s, PyTorch %.1f s, ratio %.2fx" % (lc, tc, tc / lc))
st = lo["last_step"]
parts = ["conv", "attention", "groupnorm", "linear", "convert", "other"]
print("loupe's last step: " + ", ".join("%s %.2f s (%.0f%%)" % (p, st[p + "_s"], 100 * st[p + "_s"] / st["total_s"]) for p in parts))
PY
rm -rf "$D/f32/unet"

echo "== the same step with float16 weights (diffusion_pytorch_model.fp16.safetensors)"
/usr/bin/python3 $REF gen "$D/f16" >/dev/null
echo "weights: $(du -sh "$D/f16/unet" | cut -f1)"
loupe16=$(GOMAXPROCS=$THREADS "$D/unetspeed" -dir "$D/f16" -steps 1)
echo "loupe:   $loupe16"
/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("float16 weights: %.2f s per step, peak RSS %.0f MB (UNet alone: 1.7 GB of mapped weights; the Go runtime held %.0f MB)" % (min(r["seconds"]), r["peak_rss_mb"], r["go_sys_mb"]))' "$loupe16"

# loupe diffuse end to end (opt-in, it takes minutes: IMAGE=1): an SD
# 1.5-shaped pipeline with random float16 weights (bench/diffusion_model.py:
# text encoder, UNet, VAE, the test tokenizer), IMAGE_STEPS (20) PNDM steps
# at 512x512 with guidance: seconds per phase and per image, and the peak
# resident memory of the whole process (/usr/bin/time -v). The image is
# noise (random weights); real weights come from the Hugging Face hub.
# stable-diffusion.cpp publishes memory, not CPU speed, in its README
# ("~2.3GB when using txt2img with fp16 precision to generate a 512x512
# image, enabling Flash Attention just requires ~1.8GB").
#
#   IMAGE=1 bench/diffusion.sh
#   IMAGE=1 IMAGE_STEPS=5 bench/diffusion.sh
if [ "${IMAGE:-}" = 1 ]; then
	IMAGE_STEPS=${IMAGE_STEPS:-20}
	echo "== loupe diffuse, SD 1.5-shaped random pipeline (float16 files), 512x512, $IMAGE_STEPS steps, $THREADS threads"
	/usr/bin/python3 bench/diffusion_model.py "$D/sd" F16 >/dev/null
	echo "pipeline: $(du -sh "$D/sd" | cut -f1)"
	go build -o "$D/loupe" ./cmd/loupe
	GOMAXPROCS=$THREADS /usr/bin/time -v "$D/loupe" diffuse --model "$D/sd" --steps "$IMAGE_STEPS" --width 512 --height 512 \
		--out "$D/image.png" --format json "a lighthouse at dusk, oil painting" >"$D/diffuse.json" 2>"$D/time.txt"
	/usr/bin/python3 - "$D/diffuse.json" "$D/time.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1e6
cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1)) + float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
s = r["timings"]
print("seconds: load %.1f, text %.1f, denoise %.1f (%.1f a model call, %d calls), decode %.1f; image %.1f s wall, %.1f s CPU" % (
    s["load_s"], s["text_encode_s"], s["denoise_s"], s["per_step_s"], r["settings"]["model_calls"], s["decode_s"], s["total_s"], cpu))
print("peak RSS %.2f GB (stable-diffusion.cpp's README: ~2.3 GB in fp16 at 512x512, ~1.8 GB with flash attention)" % rss)
PY
fi
