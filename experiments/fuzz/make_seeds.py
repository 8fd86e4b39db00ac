# Writes the small generated seeds of the fuzz corpus (JSON, RLE, prompts, HDF5, a bf16 safetensors).
# The checkpoint and image seeds are copies of Tests/SAMIOTests/Fixtures files. Run from experiments/fuzz.
import json, os
import numpy as np, h5py
from safetensors.numpy import save_file

c = "corpus"
coco = {"images": [{"id": 1, "file_name": "a.jpg", "height": 8, "width": 6}],
        "annotations": [
            {"id": 10, "image_id": 1, "iscrowd": 0, "segmentation": [[1, 1, 4, 1, 4, 6, 1.5, 6.5]]},
            {"id": 11, "image_id": 1, "iscrowd": 0, "segmentation": {"size": [8, 6], "counts": [3, 4, 10, 2, 29]}},
            {"id": 12, "image_id": 1, "iscrowd": 0, "segmentation": {"size": [8, 6], "counts": "52203"}},
            {"id": 13, "image_id": 1, "iscrowd": 1, "segmentation": {"size": [8, 6], "counts": [48]}}]}
json.dump(coco, open(f"{c}/coco/tiny.json", "w"))
sa = {"image": {"image_id": 1, "file_name": "a.jpg", "height": 8, "width": 6},
      "annotations": [{"id": 1, "segmentation": {"size": [8, 6], "counts": "52203"}, "area": 4},
                      {"id": 2, "segmentation": {"size": [8, 6], "counts": "0;1O10000O1"}}]}
json.dump(sa, open(f"{c}/sa1b/a.json", "w"))
open(f"{c}/rle/a", "wb").write(bytes([7, 5]) + b"52203")
open(f"{c}/rle/b", "wb").write(bytes([63, 63]) + b"0;1O10000O1`0?Ab0")
json.dump([{"points": [[10, 20], [30.5, 40]], "labels": [1, 0], "multimask": True},
           {"box": [1, 2, 30, 40]}, {"points": [[5, 5]], "box": [0, 0, 9, 9], "multimask": False}],
          open(f"{c}/prompt/a.json", "w"))
with h5py.File(f"{c}/hdf5/logits.h5", "w") as f:
    f.create_dataset("low_res_logits", data=np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4))
    f.create_dataset("iou_predictions", data=np.array([0.1, 0.9, 0.5], np.float32))
    f.create_dataset("labels", data=np.array([[1, 2], [3, 4]], np.int64))
    f.create_dataset("mask", data=np.array([[0, 1], [1, 0]], np.uint8))
    f.create_dataset("flag", data=np.array([True, False]))
    f.attrs["checkpoint_fingerprint"] = "abc"
    f.attrs["original_height"] = 4
save_file({"a": np.ones((2, 3), np.float16), "b": np.zeros((0,), np.float32)}, f"{c}/safetensors/f16.safetensors")
