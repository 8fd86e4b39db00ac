"""RITM click simulation with Meta's SamPredictor: the reference for `sam eval --prompt clicks:N`.

The clicker is RITM's (SamsungLabs/ritm_interactive_segmentation, isegm/inference/clicker.py, commit c05f992),
kept line for line where it matters:
  fn = gt & ~pred & not_ignore, fp = ~gt & pred & not_ignore; both padded by one pixel, cv2.distanceTransform
  (DIST_L2, mask size 0 = exact), cropped back, multiplied by the not-clicked map; positive iff fn_max > fp_max
  (strictly), at the first location of the maximum (np.where, row-major). With both maxima 0 this gives a negative
  click at (0, 0), as RITM does.
SAM as the clicked model (the protocol of issue 4): click 1 predicts with multimask on and keeps the mask with the
highest predicted IoU; every later click predicts with all clicks so far, the low-res logits of the mask kept last
round as `mask_input`, multimask off. N clicks are always made (no early stop) so that mIoU@k exists for every k.
NoC@t = the first click whose IoU >= t, else N (the cap).

Run through eval_reference.py (`--prompt clicks:5`), which pairs the data set and writes the CSV.
"""

import cv2
import numpy as np


class Clicker:
    """RITM's Clicker on labels 1 object / 0 background / 2 ignore."""

    def __init__(self, lab):
        self.gt_mask = lab == 1
        self.not_ignore_mask = lab != 2
        self.not_clicked_map = np.ones_like(self.gt_mask, dtype=bool)
        self.clicks = []  # (is_positive, y, x)

    def make_next_click(self, pred_mask):
        fn_mask = np.logical_and(np.logical_and(self.gt_mask, np.logical_not(pred_mask)), self.not_ignore_mask)
        fp_mask = np.logical_and(np.logical_and(np.logical_not(self.gt_mask), pred_mask), self.not_ignore_mask)
        fn_mask = np.pad(fn_mask, ((1, 1), (1, 1)), "constant")
        fp_mask = np.pad(fp_mask, ((1, 1), (1, 1)), "constant")
        fn_mask_dt = cv2.distanceTransform(fn_mask.astype(np.uint8), cv2.DIST_L2, 0)[1:-1, 1:-1]
        fp_mask_dt = cv2.distanceTransform(fp_mask.astype(np.uint8), cv2.DIST_L2, 0)[1:-1, 1:-1]
        fn_mask_dt = fn_mask_dt * self.not_clicked_map
        fp_mask_dt = fp_mask_dt * self.not_clicked_map
        fn_max_dist = np.max(fn_mask_dt)
        fp_max_dist = np.max(fp_mask_dt)
        is_positive = fn_max_dist > fp_max_dist
        if is_positive:
            coords_y, coords_x = np.where(fn_mask_dt == fn_max_dist)
        else:
            coords_y, coords_x = np.where(fp_mask_dt == fp_max_dist)
        y, x = int(coords_y[0]), int(coords_x[0])
        self.clicks.append((bool(is_positive), y, x))
        self.not_clicked_map[y, x] = False
        return self.clicks[-1]


def iou(lab, pred):
    valid = lab != 2
    g = lab == 1
    inter = np.logical_and(np.logical_and(pred, g), valid).sum()
    union = np.logical_and(np.logical_or(pred, g), valid).sum()
    return 1.0 if union == 0 else float(inter) / float(union)


def simulate(predictor, lab, n_clicks):
    """IoU after each of n_clicks clicks (predictor already holds the image)."""
    clicker = Clicker(lab)
    pred = np.zeros(lab.shape, dtype=bool)
    prev_logits = None
    ious = []
    for k in range(n_clicks):
        clicker.make_next_click(pred)
        coords = np.array([[x, y] for _, y, x in clicker.clicks], dtype=np.float64)
        labels = np.array([1 if pos else 0 for pos, _, _ in clicker.clicks])
        if k == 0:
            masks, scores, logits = predictor.predict(point_coords=coords, point_labels=labels, multimask_output=True)
            best = int(np.argmax(scores))
        else:
            masks, scores, logits = predictor.predict(point_coords=coords, point_labels=labels,
                                                      mask_input=prev_logits, multimask_output=False)
            best = 0
        pred = masks[best]
        prev_logits = logits[best][None, :, :]
        ious.append(iou(lab, pred))
    return ious


def noc(ious, thr, cap):
    for k, v in enumerate(ious):
        if v >= thr:
            return k + 1
    return cap
