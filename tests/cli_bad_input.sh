#!/usr/bin/env bash
# Bad input must give a clear error naming what and where, exit status 1, no crash (this script
# also runs against the ASan+UBSan build), and no output file left behind.
#   usage: tests/cli_bad_input.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

# expect_error NAME EXPECTED_SUBSTRING OUTPUT_PATH_THAT_MUST_NOT_EXIST -- command...
# (exit status 1; expect_usage: 2, a usage error)
expect_error() { expect_status 1 "$@"; }
expect_usage() { expect_status 2 "$@"; }
expect_status() {
  local code=$1 name=$2 want=$3 out=$4; shift 5
  "$@" >"$T/stdout" 2>"$T/stderr"
  local rc=$?
  local msg; msg=$(cat "$T/stderr")
  if [ $rc -ne "$code" ]; then echo "FAIL $name: exit status $rc, expected $code ($msg)"; fail=$((fail+1)); return; fi
  if ! grep -qF -- "$want" "$T/stderr"; then echo "FAIL $name: message lacks '$want': $msg"; fail=$((fail+1)); return; fi
  if [ -n "$out" ] && { [ -e "$out" ] || ls "$out".tmp.* >/dev/null 2>&1; }; then echo "FAIL $name: left $out behind"; fail=$((fail+1)); return; fi
  if grep -q "AddressSanitizer\|runtime error" "$T/stderr"; then echo "FAIL $name: sanitizer report"; fail=$((fail+1)); return; fi
  echo "ok   $name: $msg"
  pass=$((pass+1))
}

VIT=$ROOT/models/vit/model.onnx
size=$(stat -c %s "$VIT")
head -c $((size / 2)) "$VIT" > "$T/truncated.onnx"
head -c 4096 /dev/urandom > "$T/random.onnx"
: > "$T/empty.onnx"
cp "$VIT" "$T/corrupt.onnx"; printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$T/corrupt.onnx" bs=1 seek=0 conv=notrunc 2>/dev/null

expect_error truncated_onnx "byte" "$T/a.json" -- "$BIN" analyze "$T/truncated.onnx" --json "$T/a.json"
expect_error random_bytes "not a valid ONNX model" "$T/a.json" -- "$BIN" analyze "$T/random.onnx" --json "$T/a.json"
expect_error empty_file "empty file" "$T/a.json" -- "$BIN" analyze "$T/empty.onnx" --json "$T/a.json"
expect_error corrupt_header "byte 0" "$T/e.json" -- "$BIN" eval "$T/corrupt.onnx" --limit 8 --json "$T/e.json"
expect_error missing_file "no such file" "$T/a.json" -- "$BIN" analyze "$T/nope.onnx" --json "$T/a.json"
expect_error unknown_op "unknown op 'FrobnicateTensor'" "$T/a.json" -- "$BIN" analyze "$ROOT/tests/data/unknown_op.onnx" --json "$T/a.json"
expect_error unknown_op_names_node "frob_1" "" -- "$BIN" analyze "$ROOT/tests/data/unknown_op.onnx"
expect_error mismatched_shapes "inner dimensions differ" "$T/a.json" -- "$BIN" analyze "$ROOT/tests/data/bad_shapes.onnx" --json "$T/a.json"
expect_error mismatched_shapes_node "'proj'" "" -- "$BIN" analyze "$ROOT/tests/data/bad_shapes.onnx"
expect_error nan_weight "NaN" "$T/a.json" -- "$BIN" analyze "$ROOT/tests/data/nan_weight.onnx" --json "$T/a.json"
expect_error no_outputs "declares no outputs" "$T/a.json" -- "$BIN" analyze "$ROOT/tests/data/no_outputs.onnx" --json "$T/a.json"
expect_error no_outputs_convert "declares no outputs" "$T/no.sfm" -- "$BIN" convert "$ROOT/tests/data/no_outputs.onnx" -o "$T/no.sfm"
expect_error safetensors_missing_tensor "bert.encoder.layer.1.attention.self.value.weight' not found" "$T/o/output_0.npy" -- \
  "$BIN" run "$ROOT/tests/data/hf_missing_tensor" --input "$ROOT/models/hf_text/bert_cls/input_ids.npy" -o "$T/o"
head -c 40 "$ROOT/models/vit/hf/model.safetensors" > "$T/st_trunc_dir_model"
mkdir -p "$T/hf_trunc"; cp "$ROOT/models/vit/hf/config.json" "$T/hf_trunc/"
size=$(stat -c %s "$ROOT/models/vit/hf/model.safetensors")
head -c $((size - 1000)) "$ROOT/models/vit/hf/model.safetensors" > "$T/hf_trunc/model.safetensors"
expect_error safetensors_truncated "outside the data section" "$T/e.json" -- "$BIN" eval "$T/hf_trunc" --limit 8 --json "$T/e.json"
# a safetensors shape whose element count does not fit an int64 (its product once overflowed)
mkdir -p "$T/hf_vast"; cp "$ROOT/models/vit/hf/config.json" "$T/hf_vast/"
hj='{"w":{"dtype":"F32","shape":[4000000000000000,4000000000000000],"data_offsets":[0,16]}}'
{ printf "\\x$(printf %02x ${#hj})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hj"; head -c 16 /dev/zero; } > "$T/hf_vast/model.safetensors"
expect_error safetensors_vast_shape "tensor 'w': shape needs" "$T/e.json" -- "$BIN" eval "$T/hf_vast" --limit 8 --json "$T/e.json"
# config.json sizes that are not whole numbers in range (1e12 layers once overflowed an int)
# hf_config NAME KEY VALUE EXPECTED: the shipped ViT with one config.json value replaced
hf_config() {
  local d="$T/hf_$1"; mkdir -p "$d"
  sed -E "s/\"$2\": [^,}]*/\"$2\": $3/" "$ROOT/models/vit/hf/config.json" > "$d/config.json"
  ln -sf "$ROOT/models/vit/hf/model.safetensors" "$d/model.safetensors"
  expect_error "hf_config_$1" "$4" "$T/e.json" -- "$BIN" eval "$d" --limit 8 --json "$T/e.json"
}
hf_config layers_1e12 num_hidden_layers 1e12 "'num_hidden_layers' must be a whole number from 0 to 4096 (got 1e+12)"
hf_config layers_negative num_hidden_layers -2 "'num_hidden_layers' must be a whole number from 0 to 4096 (got -2)"
hf_config heads_0 num_attention_heads 0 "'num_attention_heads' must be a whole number from 1 to 16777216 (got 0)"
hf_config eps_5 layer_norm_eps 5 "'layer_norm_eps' must be a number in (0, 1) (got 5)"
mkdir -p "$T/idx"
cp "$DATA/t10k-labels-idx1-ubyte.gz" "$T/idx/"
gzip -dc "$DATA/t10k-images-idx3-ubyte.gz" | head -c 500000 > "$T/idx/t10k-images-idx3-ubyte"
expect_error truncated_idx "truncated" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/idx" --json "$T/e.json"
# a test split of no images, and labels past the model's classes (they would count as wrong silently)
mkdir -p "$T/idx0" "$T/idx_lab"
printf '\x00\x00\x08\x03\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$T/idx0/t10k-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x00' > "$T/idx0/t10k-labels-idx1-ubyte"
expect_error empty_test_split "the test split holds no samples" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/idx0" --json "$T/e.json"
{ printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 1568 /dev/zero; } > "$T/idx_lab/t10k-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\xc8' > "$T/idx_lab/t10k-labels-idx1-ubyte"
expect_error labels_past_classes "labels go up to 200, but" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/idx_lab" --json "$T/e.json"
expect_error missing_data_folder "data folder not found" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/no-such-dir" --json "$T/e.json"
python_free_input() { head -c 128 "$ROOT/models/vit/sample_input.npy" > "$T/bad_input.npy"; }
python_free_input
expect_error truncated_npy_input "truncated" "$T/o2/output_0.npy" -- "$BIN" run "$VIT" --input "$T/bad_input.npy" -o "$T/o2"
expect_error wrong_input_name "no input named 'pixels'" "$T/o3/output_0.npy" -- "$BIN" run "$VIT" --input "pixels=$ROOT/models/vit/sample_input.npy" -o "$T/o3"
expect_error wrong_input_shape "expects" "$T/o4/output_0.npy" -- "$BIN" run "$VIT" --input "$ROOT/models/hf_text/bert_cls/input_ids.npy" -o "$T/o4"
expect_error unwritable_output "cannot" "" -- "$BIN" eval "$VIT" --limit 8 --json /nonexistent-dir/e.json
expect_error bad_burst_code "config key 'burst_code': unknown value 'ternary' (one of: unary, binary)" "$T/bc.sfm" -- "$BIN" convert "$VIT" -o "$T/bc.sfm" --burst-code ternary
expect_error bad_coding "config key 'coding': unknown value 'sigma' (one of: rate, delta)" "$T/bc.sfm" -- "$BIN" convert "$VIT" -o "$T/bc.sfm" --coding sigma
# a delta-coded network takes only direct input encoding, the membrane decoder and non-leaky neurons
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp_delta.sfm" --neuron if --calib-samples 32 --coding delta > /dev/null
expect_error delta_rate_encoding "delta coding sends the input once and then its changes: it needs direct input encoding, not rate" "$T/dr.json" -- \
  "$BIN" eval "$T/mlp_delta.sfm" --limit 8 --encoding rate --json "$T/dr.json"
expect_error delta_count_decoder "the spike-count decoder needs rate coding" "$T/dc.json" -- "$BIN" eval "$T/mlp_delta.sfm" --limit 8 --decoder count --json "$T/dc.json"
expect_error delta_leaky "cannot be delta-coded" "$T/dl.sfm" -- "$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/dl.sfm" --neuron lif --calib-samples 32 --coding delta
# a NaN in a spiking network's input: named by sample and element, nothing written (float and int8)
cp "$ROOT/models/mlp/sample_input.npy" "$T/nan_input.npy"
hlen=$(od -An -tu2 -j8 -N2 "$T/nan_input.npy" | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of="$T/nan_input.npy" bs=1 seek=$((10 + hlen + 4 * (784 + 87))) conv=notrunc 2>/dev/null
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp.sfm" --neuron if --calib-samples 32 > /dev/null
# npy_f32 SHAPE DATA_BYTES: a float32 .npy file of that shape (as a Python tuple) and that many zero bytes of data
npy_f32() {
  local hdr="{'descr': '<f4', 'fortran_order': False, 'shape': ($1), }"
  local pad=$(( 64 - (10 + ${#hdr} + 1) % 64 ))
  printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#hdr} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#hdr} + pad + 1) / 256 )))"
  printf '%s%*s\n' "$hdr" $pad ''; head -c "$2" /dev/zero
}
# 300 samples (the batch is split into shards): the sample is named within the whole batch
npy_f32 "300, 1, 28, 28" $((300 * 784 * 4)) > "$T/nan_big.npy"
printf '\x00\x00\x80\x7f' | dd of="$T/nan_big.npy" bs=1 seek=$(( $(stat -c %s "$T/nan_big.npy") - 300 * 784 * 4 + 4 * (200 * 784 + 5) )) conv=notrunc 2>/dev/null
expect_error inf_snn_input_sharded "sample 200 (of this run's 300), element 5 is not finite" "$T/o6/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --input "$T/nan_big.npy" -o "$T/o6" --quant int8
# run --frames: clips must be [batch, T, the input's shape]; a NaN names its clip
npy_f32 "4, 784" 12544 > "$T/flat_clips.npy"
expect_error frames_wrong_shape "SNN clips: expected float32 [batch 4, T, the input's shape after the batch]" "$T/o7/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --frames "$T/flat_clips.npy" -o "$T/o7"
expect_usage frames_and_input "--input and --frames: give one" "$T/o7/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --frames "$T/flat_clips.npy" --input "$T/flat_clips.npy" -o "$T/o7"
for q in float int8; do
  expect_error nan_snn_input_$q "sample 1 (of this run's 4), element 87 is not finite" "$T/o5/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --input "$T/nan_input.npy" -o "$T/o5" --quant $q
done

# an input of no samples, and a header whose shape no file could hold (refused before allocating)
npy_f32 "0, 784" 0 > "$T/empty.npy"
expect_error empty_snn_input "input holds no samples (batch dimension 0)" "$T/o7/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --input "$T/empty.npy" -o "$T/o7"
npy_f32 "4611686018427387904, 784" 16 > "$T/vast.npy"
expect_error vast_npy_shape "vast.npy: the shape in the header describes more bytes than any file holds" "$T/o8/output_0.npy" -- "$BIN" run "$T/mlp.sfm" --input "$T/vast.npy" -o "$T/o8"
# token ids from a float file must be whole numbers (a NaN was cast to an id without a word)
npy_f32 "2, 16" 128 > "$T/ids.npy"
printf '\x00\x00\x20\x40' | dd of="$T/ids.npy" bs=1 seek=$(( $(stat -c %s "$T/ids.npy") - 128 + 4 * 3 )) conv=notrunc 2>/dev/null
expect_error float_token_ids "ids.npy: element 3 is 2.5, but input 'input_ids' is i64: whole numbers only" "$T/o10/output_0.npy" -- "$BIN" run "$ROOT/models/hf_text/gpt2_lm" --input "input_ids=$T/ids.npy" -o "$T/o10"
# an NPY dataset: a label that is not a class index, an image that is not finite
mkdir -p "$T/npyds"
npy_f32 "2, 28, 28" $((2 * 784 * 4)) > "$T/npyds/x_test.npy"
{ npy_f32 "2," 0; printf '\x00\x00\x00\x00\x00\x00\x20\x40'; } > "$T/npyds/y_test.npy"
expect_error npy_label_not_index "y_test.npy: label 1 is 2.5, not a class index" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/npyds" --json "$T/e.json"
{ npy_f32 "2," 0; printf '\x00\x00\x00\x00\x00\x00\x00\x40'; } > "$T/npyds/y_test.npy"
printf '\x00\x00\xc0\x7f' | dd of="$T/npyds/x_test.npy" bs=1 seek=$(( $(stat -c %s "$T/npyds/x_test.npy") - 784 * 4 + 4 * 10 )) conv=notrunc 2>/dev/null
expect_error npy_image_nan "x_test.npy: sample 1, element 10 is nan: images must be finite" "$T/e.json" -- "$BIN" eval "$VIT" --data "$T/npyds" --json "$T/e.json"
npy_f32 "1000, 784" 64 > "$T/short.npy"
expect_error short_npy_data "short.npy: truncated: data needs 3136000 bytes" "$T/o9/output_0.npy" -- "$BIN" run "$VIT" --input "$T/short.npy" -o "$T/o9"

# report --optimize with a point that lacks its numbers (it was dereferenced without a check)
echo '{"points": [{"energy_ratio": 0.5, "drop_points": 0.1}, {"energy_ratio": 0.4}]}' > "$T/opt.json"
expect_error report_bad_optimize_json "opt.json: point 1 lacks a finite energy_ratio and drop_points" "$T/r.html" -- "$BIN" report "$T/mlp.sfm" --optimize "$T/opt.json" --limit 32 -o "$T/r.html"

# a NaN option passes every "< lo" and "> hi" test: the parsers ask for a number inside the range
expect_usage percentile_nan "--percentile takes a number in (0, 100]" "$T/pn.sfm" -- "$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/pn.sfm" --percentile nan
expect_usage max_drop_nan "--max-drop takes a number of points from 0 to 100" "$T/pn.sfm" -- "$BIN" optimize "$ROOT/models/mlp/model.onnx" -o "$T/pn.sfm" --max-drop nan

# outputs that cannot be written are named before the work starts, not after it
mkdir -p "$T/adir"
expect_error output_is_directory "$T/adir: is a directory; give a file name" "" -- "$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/adir"
expect_error output_folder_missing "$T/no/x.sfm: cannot write there (folder $T/no does not exist)" "" -- "$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/no/x.sfm"

# a token sequence longer than the model's position table (it failed as a broadcast deep inside)
npy_f32 "1, 100" 400 > "$T/ids_long.npy"
expect_error tokens_past_positions "ids_long.npy: 100 tokens per sequence, but $ROOT/models/hf_text/gpt2_lm's position table covers 64" "$T/o11/output_0.npy" -- "$BIN" run "$ROOT/models/hf_text/gpt2_lm" --input "input_ids=$T/ids_long.npy" -o "$T/o11"

# train: a model without a trainer, data of the wrong shape, bad options; nothing written
MLP=$ROOT/models/mlp/model.onnx
expect_error train_vit "node '/vit/embeddings/patch_embeddings/projection/Conv' (Conv) cannot be trained" "$T/tr.sfm" -- "$BIN" train "$VIT" -o "$T/tr.sfm" --limit 64 --val 0 --epochs 1
"$BIN" convert "$VIT" -o "$T/vit_for_train.sfm" --timesteps 4 --calib-samples 64 > /dev/null 2>&1 || { echo "FAIL: convert the ViT for the train case"; fail=1; }
expect_error train_vit_sfm "cannot be trained" "$T/tr.sfm" -- "$BIN" train "$T/vit_for_train.sfm" -o "$T/tr.sfm" --limit 64 --val 0 --epochs 1
expect_usage train_no_output "missing -o OUT.sfm" "" -- "$BIN" train "$MLP"
expect_usage train_bad_surrogate "gaussian" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --surrogate gaussian
expect_usage train_bad_epochs "--epochs" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --epochs 0
mkdir -p "$T/cifar_like"
/usr/bin/python3 -c "import numpy as np; np.save('$T/cifar_like/x_train.npy', np.zeros((16, 3, 8, 8), np.float32)); np.save('$T/cifar_like/y_train.npy', np.zeros(16, np.int64)); np.save('$T/cifar_like/x_test.npy', np.zeros((4, 3, 8, 8), np.float32)); np.save('$T/cifar_like/y_test.npy', np.zeros(4, np.int64))"
expect_error train_wrong_shape "samples of $T/cifar_like" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --data "$T/cifar_like" --val 0 --epochs 1
/usr/bin/python3 -c "import numpy as np; np.save('$T/cifar_like/x_train.npy', np.zeros((16, 1, 28, 28), np.float32)); y = np.zeros(16, np.int64); y[9] = 10; np.save('$T/cifar_like/y_train.npy', y)"
expect_error train_label_range "label 10 of sample 9" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --data "$T/cifar_like" --val 0 --epochs 1
head -c 3000 /dev/urandom > "$T/junk.ck"
expect_error train_corrupt_checkpoint "$T/junk.ck: not a SpikeFormer training checkpoint" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --resume "$T/junk.ck" --limit 64 --val 0 --epochs 1
expect_error train_checkpoint_dir "is a directory" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --checkpoint "$T" --limit 64 --val 0 --epochs 1
expect_usage train_bad_qat "int4" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --qat int4
expect_usage train_bad_prune "--prune" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --prune 1.5
expect_usage train_bad_kd "--kd-temperature" "$T/tr.sfm" -- "$BIN" train "$MLP" -o "$T/tr.sfm" --kd-temperature 0

# the loihi2 backend, compile and the netx export
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/l2.sfm" --neuron if --calib-samples 32 > /dev/null
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/l2_signed.sfm" --relu-ec --calib-samples 32 > /dev/null
expect_error l2_unknown_option "backend 'loihi2' has no option 'bogus'" "$T/e.json" -- "$BIN" eval "$T/l2.sfm" --backend loihi2 --backend-opt bogus=1 --limit 8 --json "$T/e.json"
expect_error l2_option_value "loihi2 backend: vth_scale takes a number" "$T/e.json" -- "$BIN" eval "$T/l2.sfm" --backend loihi2 --backend-opt vth_scale=x --limit 8 --json "$T/e.json"
expect_error l2_option_form "--backend-opt takes KEY=VALUE" "$T/m.json" -- "$BIN" compile "$T/l2.sfm" --backend-opt family --json "$T/m.json"
expect_error l2_bad_cores "exclude_cores" "$T/m.json" -- "$BIN" compile "$T/l2.sfm" --exclude-cores 3,x --json "$T/m.json"
expect_error l2_too_big "needs 3 neurocores on 3 chips" "$T/m.json" -- "$BIN" compile "$T/l2.sfm" --backend-opt cores_per_chip=1 --backend-opt max_chips=2 --calibrate 0 --json "$T/m.json"
expect_error l2_signed "node '/relu1/Relu' (Relu)" "$T/e.json" -- "$BIN" eval "$T/l2_signed.sfm" --backend loihi2 --limit 8 --json "$T/e.json"
expect_error netx_signed "node '/relu1/Relu' (Relu)" "$T/x.net" -- "$BIN" export "$T/l2_signed.sfm" --format netx -o "$T/x.net"
expect_usage netx_nir_option "--nir-dialect applies to --format nir" "$T/x.net" -- "$BIN" export "$T/l2.sfm" --format netx --nir-dialect snntorch -o "$T/x.net"
expect_usage nir_backend_option "--backend-opt applies to --format netx" "$T/x.nir" -- "$BIN" export "$T/l2.sfm" --format nir --backend-opt input_exp=7 -o "$T/x.nir"
expect_error netx_unwritable "cannot" "" -- "$BIN" export "$T/l2.sfm" --format netx -o "$T/no/such/dir/x.net"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
