"""The long-format keypoint CSV (``frame,joint,x,y[,confidence]``): every malformed row
is one error naming the file, the line (1-based, as an editor counts) and what is wrong;
through `poselift infer` it is one ``poselift: error:`` line, no traceback."""

from __future__ import annotations

import numpy as np
import pytest
from test_cli import assert_one_line_error, run  # shared CLI helpers

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17
from poselift.io.keypoints import load_csv_keypoints, load_keypoints

HEADER = "frame,joint,x,y,confidence"
GOOD = [HEADER, "0,nose,10,20,0.9", "0,left_eye,11,21,0.9", "1,nose,12,22,0.8"]
GEOMETRY = ["--width", "640", "--height", "480", "--fps", "25"]


def write(path, lines, end="\n"):
    path.write_text(end.join(lines) + end)
    return path


def csv_error(tmp_path, lines, name="kp.csv"):
    with pytest.raises(PoseliftError) as info:
        load_csv_keypoints(write(tmp_path / name, lines))
    return str(info.value)


# (rows after the header, line of the fault, what the message says)
MALFORMED = {
    "extra-column": (["0,nose,10,20,0.9", "0,left_eye,11,21,0.9,7"], 3, "6 values, 1 more than the header's 5 columns"),
    "missing-y": (["0,nose,10,20,0.9", "0,left_eye,11"], 3, "3 values, no value for 'y', 'confidence'"),
    "missing-confidence": (["0,nose,10,20"], 2, "4 values, no value for 'confidence'"),
    "x-not-a-number": (["0,nose,abc,20,0.9"], 2, "'x' is not a number: 'abc'"),
    "y-infinite": (["0,nose,10,inf,0.9"], 2, "'y' is inf, not a finite number"),
    "x-overflow": (["0,nose,1e400,20,0.9"], 2, "'x' is 1e400, not a finite number"),
    "x-huge": (["0,nose,1e12,20,0.9"], 2, "'x' is 1e+12 pixels, implausible for any image"),
    "x-without-y": (["0,nose,10,,0.9"], 2, "'x' is given but 'y' is empty or nan; give both, or neither"),
    "y-without-x": (["0,nose,nan,20,0.9"], 2, "'y' is given but 'x' is empty or nan"),
    "frame-negative": (["0,nose,10,20,0.9", "-1,left_eye,11,21,0.9"], 3, "'frame' is negative (-1); frames count from 0"),
    "frame-nan": (["nan,nose,10,20,0.9"], 2, "'frame' must be a whole number (frames count from 0), got 'nan'"),
    "frame-fraction": (["1.5,nose,10,20,0.9"], 2, "'frame' must be a whole number"),
    "frame-text": (["one,nose,10,20,0.9"], 2, "'frame' is not a number: 'one'"),
    "frame-empty": ([",nose,10,20,0.9"], 2, "'frame' is empty"),
    "joint-empty": (["0,,10,20,0.9"], 2, "'joint' is empty"),
    "confidence-above-1": (["0,nose,10,20,1.5"], 2, "'confidence' must be in [0, 1] (empty = 1, nan = missing), got 1.5"),
    "confidence-negative": (["0,nose,10,20,-0.1"], 2, "'confidence' must be in [0, 1]"),
    "confidence-text": (["0,nose,10,20,high"], 2, "'confidence' is not a number: 'high'"),
    "joint-index-out-of-range": (["0,3,10,20,0.9", "1,40,10,20,0.9"], 3, "joint index 40 is out of range"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_rows_name_the_file_line_and_fault(tmp_path, case):
    rows, line, fault = MALFORMED[case]
    message = csv_error(tmp_path, [HEADER, *rows])
    assert message.startswith(f"{tmp_path / 'kp.csv'}: line {line}: "), message
    assert fault in message


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path):
    """The line number is the file's, as an editor shows it: blank lines and a value
    spanning two lines (quoted) are counted."""
    lines = [HEADER, "", "0,nose,10,20,0.9", '0,"left_eye",11,21,"0.9"', "", "", "1,nose,12,oops,0.9"]
    assert csv_error(tmp_path, lines).startswith(f"{tmp_path / 'kp.csv'}: line 7: 'y' is not a number")
    lines = [HEADER, '0,nose,10,20,"0.9\n"', "1,nose,abc,20,0.9"]  # the record of line 2 ends on line 3
    assert ": line 4: 'x' is not a number" in csv_error(tmp_path, lines)
    # CRLF line ends count the same
    write(tmp_path / "crlf.csv", [HEADER, "0,nose,10,20,0.9", "1,nose,12"], end="\r\n")
    with pytest.raises(PoseliftError, match=r"crlf\.csv: line 3: 3 values"):
        load_csv_keypoints(tmp_path / "crlf.csv")


@pytest.mark.parametrize(
    "header, fault",
    [
        ("frame,joint,x,confidence", "the header has no 'y' column"),
        ("frame,joint,x,y,z", "unknown column 'z' in the header"),
        ("frame,joint,x,y,y", "column 'y' appears twice in the header"),
        ("0,nose,10,20,0.9", "the header has no 'frame', 'joint', 'x', 'y' column"),  # no header line at all
    ],
)
def test_malformed_headers(tmp_path, header, fault):
    message = csv_error(tmp_path, [header, "0,nose,10,20,0.9"])
    assert message.startswith(f"{tmp_path / 'kp.csv'}: line 1: ") and fault in message, message


def test_empty_files(tmp_path):
    (tmp_path / "zero.csv").write_bytes(b"")
    with pytest.raises(PoseliftError, match=r"zero\.csv is empty \(0 bytes\)"):
        load_keypoints(tmp_path / "zero.csv", width=640, height=480, fps=25)
    assert "blank.csv is empty: expected a header line frame,joint,x,y,confidence" in csv_error(tmp_path, ["", "  ", ""], "blank.csv")
    assert "has a header but no rows" in csv_error(tmp_path, [HEADER, ""], "header.csv")


def test_well_formed_variants_still_read(tmp_path):
    """Missing joints (empty or nan x, y), an empty confidence (= 1), nan confidence (=
    missing), no confidence column, columns in another order, blank lines and rows of
    empty values, a byte-order mark, CRLF: all read."""
    lines = [
        "joint,frame,y,x,confidence",
        "nose,0,20,10,",  # confidence empty = 1
        "left_eye,0,,,0.5",  # missing joint
        "",
        ",,,,",  # a spreadsheet's empty row
        "nose,1,nan,NaN,0.9",  # missing joint
        "left_eye,1,21,11,nan",  # nan confidence: missing (0), as in the other formats
    ]
    path = tmp_path / "kp.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    points, conf, meta = load_csv_keypoints(path)
    assert meta == {"layout": "coco17"} and points.shape == (2, 17, 2)
    np.testing.assert_array_equal(points[0, 0], [10, 20])
    assert conf[0, 0] == 1.0 and np.isnan(points[0, 1]).all() and conf[0, 1] == 0
    assert np.isnan(points[1, 0]).all() and conf[1, 1] == 0 and (points[1, 1] == [11, 21]).all()
    points, conf, _ = load_csv_keypoints(write(tmp_path / "noconf.csv", ["frame,joint,x,y", "0,nose,1,2"]))
    assert conf[0, 0] == 1.0


def test_former_joint_name_is_still_read(tmp_path):
    """h36m17 CSVs written with the joint name Neck/Nose (before it became NeckNose) still import."""
    rows = [f"0,{'Neck/Nose' if name == 'NeckNose' else name},{j},{j + 1},1" for j, name in enumerate(H36M_17.joint_names)]
    points, _, meta = load_csv_keypoints(write(tmp_path / "h36m.csv", [HEADER, *rows]))
    assert meta["layout"] == "h36m17"
    np.testing.assert_array_equal(points[0, H36M_17.index("NeckNose")], [9, 10])


def test_unknown_joint_names_say_where(tmp_path):
    message = csv_error(tmp_path, [HEADER, "0,nose,1,2,1", "0,antenna,1,2,1"])
    assert "joint names ['antenna'] (first on line 3) do not all belong to one layout" in message


@pytest.mark.parametrize("case", ["extra-column", "missing-y", "x-not-a-number", "frame-negative", "confidence-above-1"])
def test_cli_prints_one_line_and_exits_2(tmp_path, capsys, case):
    rows, line, fault = MALFORMED[case]
    src = write(tmp_path / "kp.csv", [HEADER, *rows])
    rc, _, err = run(["infer", src, "--out", tmp_path / "out", *GEOMETRY, "--no-progress"], capsys)
    assert_one_line_error(rc, err, f"{src}: line {line}: ", fault)
    assert not (tmp_path / "out").exists()
