/* layerlens slice viewer: three orthogonal slices through the volume of a sample page, with a slider through each
   plane and the heat maps of its explanations over them. Plain JavaScript, nothing from the network.

   The page's data file (data/volumes/<image>.js, a script: file:// pages cannot fetch) sets window.LAYERLENS_VOLUME
   (see layerlens/site/_volumes.py): the voxels as base64 uint8 in the order D, H, W, channels, and each heat map as
   base64 int8 at the same D, H, W, ±127 where the colour saturates. Each plane draws its slice at one canvas pixel
   per voxel (CSS enlarges it, pixels sharp), so what a canvas holds is exactly the slice.

   Axial: rows H (top down), columns W. Coronal: rows D (slice 0 at the bottom), columns W. Sagittal: rows D (slice 0
   at the bottom), columns H. */
(function () {
  "use strict";

  function decode(text, Type) {
    var binary = window.atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return new Type(bytes.buffer);
  }

  function start() {
    var section = document.getElementById("volume");
    if (!section) { return; }
    var data = window.LAYERLENS_VOLUME;
    if (!data || !data.shape) {
      var missing = document.createElement("p");
      missing.className = "note";
      missing.textContent = "The volume's data file did not load, so the slices cannot be drawn.";
      section.appendChild(missing);
      return;
    }
    var D = data.shape[0], H = data.shape[1], W = data.shape[2], C = data.channels;
    var size = { D: D, H: H, W: W };
    var voxels = decode(data.voxels, Uint8Array);
    var heats = data.heat.map(function (h) { return decode(h.data, Int8Array); });
    var first = { D: data.start[0], H: data.start[1], W: data.start[2] };
    var at = Object.assign({}, first);
    var heatBox = document.getElementById("volume-heat");
    var methodBox = document.getElementById("volume-method");
    var opacityBox = document.getElementById("volume-opacity");
    var forColour = data.forColour, againstColour = data.againstColour;

    /* What each plane cuts across, and where a pixel of its picture lies in the volume. */
    var kinds = {
      axial: { across: "D", rows: "H", columns: "W",
               voxel: function (row, column, slice) { return [slice, row, column]; } },
      coronal: { across: "H", rows: "D", columns: "W",
                 voxel: function (row, column, slice) { return [D - 1 - row, slice, column]; } },
      sagittal: { across: "W", rows: "D", columns: "H",
                  voxel: function (row, column, slice) { return [D - 1 - row, column, slice]; } }
    };
    // The picture's row and column of the point "at", in a plane whose rows or columns are the given axis.
    function place(axis) { return axis === "D" ? D - 1 - at.D : at[axis]; }

    var planes = [];
    section.querySelectorAll("figure.plane").forEach(function (figure) {
      var kind = kinds[figure.getAttribute("data-plane")];
      if (!kind) { return; }
      planes.push({
        kind: kind,
        figure: figure,
        canvas: figure.querySelector("canvas"),
        slider: figure.querySelector("input[type=range]"),
        output: figure.querySelector("output"),
        row: figure.querySelector(".cross-row"),
        column: figure.querySelector(".cross-column")
      });
    });

    function heatShown() {
      if (!heats.length || (heatBox && !heatBox.checked)) { return null; }
      return heats[methodBox ? Number(methodBox.value) : 0];
    }

    function draw(plane) {
      var kind = plane.kind, canvas = plane.canvas;
      var height = size[kind.rows], width = size[kind.columns], slice = at[kind.across];
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d");
      var picture = context.createImageData(width, height);
      var pixels = picture.data;
      var heat = heatShown();
      var opacity = opacityBox ? Number(opacityBox.value) / 100 : data.opacity;
      for (var row = 0; row < height; row += 1) {
        for (var column = 0; column < width; column += 1) {
          var v = kind.voxel(row, column, slice);
          var i = (v[0] * H + v[1]) * W + v[2];
          var red = voxels[i * C], green = C === 3 ? voxels[i * C + 1] : red, blue = C === 3 ? voxels[i * C + 2] : red;
          if (heat) {
            var q = heat[i];
            if (q !== 0) {
              var strength = Math.min(Math.abs(q) / 127, 1) * opacity;
              var colour = q > 0 ? forColour : againstColour;
              red = red * (1 - strength) + colour[0] * strength;
              green = green * (1 - strength) + colour[1] * strength;
              blue = blue * (1 - strength) + colour[2] * strength;
            }
          }
          var p = (row * width + column) * 4;
          pixels[p] = Math.round(red);
          pixels[p + 1] = Math.round(green);
          pixels[p + 2] = Math.round(blue);
          pixels[p + 3] = 255;
        }
      }
      context.putImageData(picture, 0, 0);
    }

    function cross(plane) {
      var kind = plane.kind;
      plane.row.style.top = (100 * (place(kind.rows) + 0.5) / size[kind.rows]) + "%";
      plane.column.style.left = (100 * (place(kind.columns) + 0.5) / size[kind.columns]) + "%";
      var slice = at[kind.across];
      plane.slider.value = String(slice);
      plane.output.textContent = "slice " + (slice + 1) + " of " + size[kind.across];
      plane.slider.setAttribute("aria-valuetext", "slice " + (slice + 1) + " of " + size[kind.across]);
    }

    function refresh(changed) {
      planes.forEach(function (plane) {
        if (!changed || changed.indexOf(plane.kind.across) >= 0) { draw(plane); }
        cross(plane);
      });
    }

    planes.forEach(function (plane) {
      var kind = plane.kind;
      plane.slider.addEventListener("input", function () {
        at[kind.across] = Math.max(0, Math.min(size[kind.across] - 1, Number(plane.slider.value)));
        refresh([kind.across]);
      });
      plane.canvas.addEventListener("click", function (event) {
        var box = plane.canvas.getBoundingClientRect();
        var rows = size[kind.rows], columns = size[kind.columns];
        var row = Math.max(0, Math.min(rows - 1, Math.floor((event.clientY - box.top) / box.height * rows)));
        var column = Math.max(0, Math.min(columns - 1, Math.floor((event.clientX - box.left) / box.width * columns)));
        var v = kind.voxel(row, column, at[kind.across]);
        at.D = v[0];
        at.H = v[1];
        at.W = v[2];
        refresh([kind.rows, kind.columns]);
      });
    });

    function redrawAll() { refresh(null); }
    if (heatBox) { heatBox.addEventListener("change", redrawAll); }
    if (opacityBox) { opacityBox.addEventListener("input", redrawAll); }
    function legend() {
      document.querySelectorAll("#volume-legend [data-method]").forEach(function (span) {
        span.hidden = span.getAttribute("data-method") !== (methodBox ? methodBox.value : "0");
      });
    }
    if (methodBox) {
      methodBox.addEventListener("change", function () { legend(); redrawAll(); });
    }
    legend();
    var reset = document.getElementById("volume-reset");
    if (reset) {
      reset.addEventListener("click", function () { at = Object.assign({}, first); redrawAll(); });
    }
    redrawAll();
    section.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
