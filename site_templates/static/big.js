/* layerlens site, big runs: the paged gallery and the one sample page (sample.html#N) of a run too big for a page
   per image. Both read the run's data from chunked data scripts (script elements work from file://, fetch does
   not), through site.js' layerlens.load. Every user string reaches the page through textContent or an attribute. */
(function () {
  "use strict";

  var L = window.layerlens;
  // Columns that hold one list per layer (clusters) or per metadata column (meta values, filter codes).
  var NESTED = { clusters: true, meta: true, codes: true };

  /* Load the chunks ``key-0 .. key-(count-1)`` from ``prefix00000.js``...; then ``done`` with their columns
     joined, in chunk order. */
  function loadAll(prefix, key, count, progress, done) {
    var parts = new Array(count);
    var left = count;
    if (!count) { done({}); return; }
    for (var k = 0; k < count; k++) {
      (function (k) {
        L.load(key + "-" + k, prefix + L.imageName(k) + ".js", function (chunk) {
          parts[k] = chunk;
          left -= 1;
          progress(count - left, count);
          if (!left) { done(join(parts)); }
        });
      })(k);
    }
  }

  function join(parts) {
    var out = {};
    parts.forEach(function (part) {
      Object.keys(part).forEach(function (key) {
        if (NESTED[key]) {
          out[key] = out[key] || part[key].map(function () { return []; });
          part[key].forEach(function (list, c) { Array.prototype.push.apply(out[key][c], list); });
        } else {
          out[key] = out[key] || [];
          Array.prototype.push.apply(out[key], part[key]);
        }
      });
    });
    return out;
  }

  function label(setup, rows, j) {
    var predicted = setup.classes[rows.predicted[j]];
    if (rows.index !== undefined ? rows.index[j] >= setup.nImages : false) { return "probe → " + predicted; }
    return rows.true && rows.true[j] >= 0 ? setup.classes[rows.true[j]] + " → " + predicted : predicted;
  }

  /* ---- the paged gallery ---- */

  function pagedGallery() {
    var setup = JSON.parse(document.getElementById("gallery-paged").textContent);
    var form = document.getElementById("gallery-filters");
    var list = document.getElementById("gallery");
    var status = document.getElementById("gallery-status");
    var clear = document.getElementById("gallery-clear");
    var previous = document.getElementById("page-previous");
    var next = document.getElementById("page-next");
    var at = document.getElementById("page-at");  // (and the pager below the thumbnails: the same ids + "-bottom")
    var pages = new Set(setup.pages);
    var rows = null;
    var shown = [];
    var page = 0;
    var linked = L.noLink();  // set from the address, and emptied by the clear button, in site.js
    var what = setup.labelled ? "mistakes" : "unsure predictions";

    /* Every gallery position that passes the filters, in the chosen order. */
    function filtered() {
      var want = L.wantedFilters(form);
      var listed = linked.images ? new Map(linked.images.map(function (i, p) { return [i, p]; })) : null;
      var out = [];
      for (var j = 0; j < rows.index.length; j++) {
        if (want.true !== "" && String(rows.true[j]) !== want.true) { continue; }
        if (want.predicted !== "" && String(rows.predicted[j]) !== want.predicted) { continue; }
        if (want.cluster !== "" && String(rows.clusters[want.layer][j]) !== want.cluster) { continue; }
        if (want.meta.some(function (pair) { return String(rows.codes[pair[0]][j]) !== pair[1]; })) { continue; }
        if (linked.path !== null && rows.path[j] !== linked.path) { continue; }
        if (listed !== null && !listed.has(rows.index[j])) { continue; }
        out.push(j);
      }
      var sort = form.elements.sort.value;
      var key = function (j) {
        if (listed && linked.inOrder) { return listed.get(rows.index[j]); }
        if (sort === "index") { return rows.index[j]; }
        if (sort === "doubt-desc") { return -rows.doubt[j]; }
        return sort === "confidence-asc" ? rows.confidence[j] : -rows.confidence[j];
      };
      out.sort(function (a, b) { return key(a) - key(b) || a - b; });
      return { rows: out, listed: listed };
    }

    function item(j) {
      var i = rows.index[j];
      var li = document.createElement("li");
      var wrong = rows.true && rows.true[j] >= 0 && rows.true[j] !== rows.predicted[j];
      li.className = "thumb" + (wrong ? " wrong" : "");
      li.setAttribute("data-index", String(i));
      var link = document.createElement("a");
      link.href = pages.has(i) ? "samples/" + L.imageName(i) + ".html" : "sample.html#" + i;
      link.title = rows.file[j] || "image " + i;
      link.appendChild(L.picture(setup.sprites, i, "images/", rows.cell[j]));
      var caption = document.createElement("span");
      caption.className = "caption";
      caption.textContent = label(setup, rows, j) + " " + L.percent(rows.confidence[j]);
      link.appendChild(caption);
      if (rows.file[j]) {
        var file = document.createElement("span");
        file.className = "file";
        file.textContent = rows.file[j];
        link.appendChild(file);
      }
      li.appendChild(link);
      return li;
    }

    function draw() {
      var count = Math.max(1, Math.ceil(shown.length / setup.pageSize));
      page = Math.max(0, Math.min(page, count - 1));
      var fragment = document.createDocumentFragment();
      shown.slice(page * setup.pageSize, (page + 1) * setup.pageSize).forEach(function (j) { fragment.appendChild(item(j)); });
      list.textContent = "";
      list.appendChild(fragment);
      ["", "-bottom"].forEach(function (where) {
        document.getElementById("page-at" + where).textContent = "Page " + (page + 1) + " of " + count;
        document.getElementById("page-previous" + where).disabled = page === 0;
        document.getElementById("page-next" + where).disabled = page >= count - 1;
      });
    }

    function apply() {
      var result = filtered();
      shown = result.rows;
      page = 0;
      var text = shown.length + " of " + rows.index.length + " images shown, " + setup.pageSize + " a page";
      if (linked.path !== null) { text += ": the " + what + " of path " + linked.path; }
      if (result.listed !== null) {
        var here = new Set(rows.index);
        var absent = linked.images.filter(function (i) { return !here.has(i); }).length;
        text += (linked.path !== null ? "; " : ": ") + "the images a finding names" +
          (absent ? " (" + absent + " of them not among the " + what + ")" : "");
      }
      status.textContent = text + "." + linked.missing;
      var chosen = L.filterLists(form).some(function (select) { return select.value !== ""; });
      clear.hidden = !(chosen || linked.path !== null || result.listed !== null || linked.missing);
      draw();
    }

    function save() {
      L.downloadCsv(setup, setup.columns, shown.map(function (j) {
        var values = setup.columns.map(function (_, c) { return rows.meta ? rows.meta[c][j] : ""; });
        return [
          rows.file[j] || "image " + rows.index[j],
          rows.true && rows.true[j] >= 0 ? setup.classes[rows.true[j]] : "",
          setup.classes[rows.predicted[j]],
          Number(rows.confidence[j]).toFixed(4),
          rows.path[j]
        ].concat(setup.doubt ? [Number(rows.doubt[j]).toFixed(4)] : [], values);
      }));
    }

    L.fillClusters(form, setup.clusterNames);
    L.followGalleryAddress(form, setup.clusterNames, linked);
    loadAll("data/gallery/", "gallery", setup.galleryChunks, function (done, count) {
      status.textContent = "Loading the " + setup.galleryLength + " images… (" + done + " of " + count + " parts)";
    }, function (joined) {
      rows = joined.index ? joined : { index: [], predicted: [], confidence: [], clusters: [], path: [], file: [] };
      L.listenToFilters(form, setup.clusterNames, linked, apply, save);
      previous.addEventListener("click", function () { page -= 1; draw(); });
      next.addEventListener("click", function () { page += 1; draw(); });
      // The pager below the thumbnails turns the page and brings its top into view.
      document.getElementById("page-previous-bottom").addEventListener("click", function () {
        page -= 1;
        draw();
        at.scrollIntoView({ block: "nearest" });
      });
      document.getElementById("page-next-bottom").addEventListener("click", function () {
        page += 1;
        draw();
        at.scrollIntoView({ block: "nearest" });
      });
      apply();
      list.setAttribute("data-ready", "1");
    });
  }

  /* ---- the sample page of any image: sample.html#N ---- */

  function samplePage() {
    var setup = JSON.parse(document.getElementById("sample-setup").textContent);
    var pages = new Set(setup.pages);
    var title = document.getElementById("sample-title");
    var body = document.getElementById("sample-body");
    var missing = document.getElementById("sample-missing");
    var pager = document.getElementById("sample-pager");
    var suffix = document.title.replace(/^[^·]*·\s*/, "");
    var current = null;

    function cell(row, name, text, note) {
      var dt = document.createElement("dt");
      dt.textContent = name;
      var dd = document.createElement("dd");
      dd.textContent = text;
      if (note) {
        var span = document.createElement("span");
        span.className = "note";
        span.textContent = " " + note;
        dd.appendChild(span);
      }
      row.appendChild(dt);
      row.appendChild(dd);
    }

    function neighbour(link, g) {
      link.hidden = true;
      if (g < 0 || g >= setup.galleryLength) { return; }
      var k = Math.floor(g / setup.perChunk);
      L.load("gallery-" + k, "data/gallery/" + L.imageName(k) + ".js", function (chunk) {
        var i = chunk.index[g - k * setup.perChunk];
        link.href = pages.has(i) ? "samples/" + L.imageName(i) + ".html" : "#" + i;
        link.hidden = false;
      });
    }

    function render(chunk, j, i) {
      var probe = i >= setup.nImages;
      var predicted = setup.classes[chunk.predicted[j]];
      var hasTrue = chunk.true && chunk.true[j] >= 0;
      var text = probe ? "probe → " + predicted : hasTrue ? setup.classes[chunk.true[j]] + " → " + predicted : predicted;
      title.textContent = text + " ";
      var sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = (probe ? "probe " : "image ") + i + (hasTrue ? (chunk.true[j] === chunk.predicted[j] ? ", correct" : ", misclassified") : "");
      title.appendChild(sub);
      document.title = "Image " + i + ": " + text + " · " + suffix;
      document.getElementById("crumb-image").textContent = "Image " + i;
      var pictureElement = document.getElementById("sample-picture");
      L.setPicture(pictureElement, setup.sprites, i, "images/", chunk.cell[j], false);
      pictureElement.setAttribute("aria-label", "image " + i);
      document.getElementById("sample-file").textContent = chunk.file[j] || (probe ? "probe " : "image ") + i + " of the analysed set";

      var facts = document.getElementById("sample-facts");
      facts.textContent = "";
      if (hasTrue) { cell(facts, "True class", setup.classes[chunk.true[j]]); }
      cell(facts, "Predicted", predicted + ", confidence " + (100 * chunk.confidence[j]).toFixed(1) + "%");
      if (chunk.doubt) {
        cell(facts, "Doubt", (100 * chunk.doubt[j]).toFixed(1) + "%", "chance of a mistake " + (100 * chunk.mistake[j]).toFixed(1) + "%" +
          (chunk.unfamiliarity[j] > 0 ? ", unfamiliar to the early layers (" + L.percent(chunk.unfamiliarity[j]) + ")" : "") +
          "; " + L.percent(chunk.disagreement[j]) + " of its nearest reference images are labelled otherwise");
      }
      cell(facts, "Layers agreeing", chunk.agreeing[j] + " of " + setup.layers.length,
        "layers put it in a cluster led by “" + predicted + "”");
      var own = document.getElementById("sample-page");
      own.hidden = !pages.has(i);
      own.querySelector("a").href = "samples/" + L.imageName(i) + ".html";

      var meta = document.getElementById("sample-metadata");
      var metaBody = meta.querySelector("tbody");
      metaBody.textContent = "";
      meta.hidden = !chunk.meta || probe;
      (chunk.meta || []).forEach(function (values, c) {
        var tr = document.createElement("tr");
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = setup.columns[c];
        var td = document.createElement("td");
        td.textContent = values[j] === "" ? "–" : values[j];
        tr.appendChild(th);
        tr.appendChild(td);
        metaBody.appendChild(tr);
      });

      var probabilities = document.querySelector("#sample-probabilities tbody");
      probabilities.textContent = "";
      chunk.probabilities[j].forEach(function (p, c) {
        var tr = document.createElement("tr");
        if (c === chunk.predicted[j]) { tr.className = "predicted"; }
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = setup.classes[c];
        var bar = document.createElement("td");
        bar.className = "bar";
        var fill = document.createElement("span");
        fill.style.width = (100 * p).toFixed(1) + "%";
        bar.appendChild(fill);
        var td = document.createElement("td");
        td.className = "num";
        td.textContent = (100 * p).toFixed(1) + "%";
        tr.appendChild(th);
        tr.appendChild(bar);
        tr.appendChild(td);
        probabilities.appendChild(tr);
      });

      var path = document.getElementById("sample-path");
      path.textContent = "";
      setup.layers.forEach(function (layer, l) {
        var c = chunk.clusters[l][j];
        var li = document.createElement("li");
        li.className = setup.leading[l][c] === chunk.predicted[j] ? "agrees" : "differs";
        var name = document.createElement("span");
        name.className = "layer";
        name.textContent = layer;
        var cluster = document.createElement("span");
        cluster.className = "cluster";
        cluster.textContent = setup.clusterNames[l][c];
        li.appendChild(name);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(cluster);
        path.appendChild(li);
      });
      document.getElementById("sample-path-section").hidden = false;

      var g = chunk.gallery[j];
      pager.hidden = g < 0;
      if (g >= 0) {
        var word = setup.galleryLabel.charAt(0).toUpperCase() + setup.galleryLabel.slice(1);
        document.getElementById("sample-position").textContent = word + " " + (g + 1) + " of " + setup.galleryLength;
        neighbour(document.getElementById("previous"), g - 1);
        neighbour(document.getElementById("next"), g + 1);
      }
      missing.hidden = true;
      body.hidden = false;
      body.setAttribute("data-image", String(i));
    }

    function show() {
      var text = window.location.hash.slice(1);
      var i = /^\d+$/.test(text) ? Number(text) : -1;
      current = i;
      if (i < 0 || i >= setup.nRows) {
        title.textContent = "No such image";
        missing.hidden = false;
        body.hidden = true;
        pager.hidden = true;
        document.getElementById("sample-path-section").hidden = true;
        return;
      }
      var k = Math.floor(i / setup.perChunk);
      L.load("rows-" + k, "data/rows/" + L.imageName(k) + ".js", function (chunk) {
        if (current === i) { render(chunk, i - k * setup.perChunk, i); }
      });
    }

    window.addEventListener("hashchange", show);
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || /^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(event.target.tagName)) { return; }
      var link = document.getElementById({ ArrowLeft: "previous", ArrowRight: "next" }[event.key] || "");
      if (link && !link.hidden && !pager.hidden) { window.location.href = link.href; }
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.getElementById("gallery-paged")) { pagedGallery(); }
    if (document.getElementById("sample-setup")) { samplePage(); }
  });
})();
