/* layerlens site: draws the plots, filters the image lists, loads layer maps on demand.
   Plain JavaScript, no framework, nothing from the network. Every user string reaches the page
   through textContent or an attribute, never as HTML. */
(function () {
  "use strict";

  var layerlens = (window.layerlens = window.layerlens || {});
  var received = {};
  var waiting = {};
  var GRID_STEP = 48;

  /* Data files call this when they load (script elements work from file://, fetch does not). */
  layerlens.receive = function (key, value) {
    received[key] = value;
    (waiting[key] || []).forEach(function (callback) { callback(value); });
    delete waiting[key];
  };

  function whenLoaded(key, src, callback) {
    if (key in received) { callback(received[key]); return; }
    if (!waiting[key]) {
      waiting[key] = [];
      var script = document.createElement("script");
      script.src = src;
      document.head.appendChild(script);
    }
    waiting[key].push(callback);
  }

  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"] };

  function plot(element, figure, still) {
    var config = Object.assign({}, CONFIG, still ? { staticPlot: true } : {});
    return window.Plotly.react(element, figure.data, figure.layout || {}, config);
  }

  /* Draw the page's figures from their JSON blocks: the first screen's at once, "later" ones when the
     browser is next free, so that they do not hold up what the reader sees first. */
  function drawFigures(later) {
    document.querySelectorAll("script[data-figure]").forEach(function (block) {
      var element = document.getElementById(block.getAttribute("data-figure"));
      if (!element || !window.Plotly || element.hasAttribute("data-later") !== later) { return; }
      plot(element, JSON.parse(block.textContent), element.hasAttribute("data-still"));
    });
  }

  function percent(value) { return Math.round(value * 100) + "%"; }

  /* A whole number from a link's query, when it is one in [0, below); else null. */
  function whole(text, below) {
    if (text === null || !/^\d+$/.test(text)) { return null; }
    var n = Number(text);
    return n < below ? n : null;
  }

  /* The numbers of a link's "images=1,5,9", in their order, once each. */
  function numberList(text) {
    var seen = new Set();
    return (text || "").split(",").filter(function (part) { return /^\d+$/.test(part); }).map(Number)
      .filter(function (n) { var fresh = !seen.has(n); seen.add(n); return fresh; });
  }

  /* Take a link's query out of the address once its filter is cleared (a reload then shows everything). */
  function forgetQuery() {
    try {
      window.history.replaceState(null, "", window.location.href.split(/[?#]/)[0]);
    } catch (error) { /* some browsers refuse it on file://; the filter is cleared anyway */ }
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function imageName(index) { return String(index).padStart(5, "0"); }  // as Python's "%05d"

  /* Show image ``i`` in ``element``: an <img> gets its own PNG in ``base``; another element (a big run's) the
     cell ``cell`` of the sprite sheets in ``base`` as background (as layerlens.site._big.Sprites.style writes
     it). ``lazy``: the sheet is set when the element first comes into view. */
  function setPicture(element, sprites, i, base, cell, lazy) {
    if (!sprites || element.tagName === "IMG") { element.src = base + imageName(i) + ".png"; return; }
    var within = cell % sprites.per, column = within % sprites.columns, row = Math.floor(within / sprites.columns);
    var sheet = "url('" + base + "sprite-" + imageName(Math.floor(cell / sprites.per)) + ".png')";
    element.style.backgroundSize = (100 * sprites.columns) + "% " + (100 * sprites.rows) + "%";
    element.style.backgroundPosition = (sprites.columns > 1 ? 100 * column / (sprites.columns - 1) : 0) + "% " +
      (sprites.rows > 1 ? 100 * row / (sprites.rows - 1) : 0) + "%";
    element.style.aspectRatio = sprites.ratio;
    if (lazy && window.IntersectionObserver) {
      element.setAttribute("data-sheet", sheet);
      sheets().observe(element);
    } else {
      element.style.backgroundImage = sheet;
    }
  }

  var watcher = null;
  function sheets() {
    watcher = watcher || new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) { return; }
        entry.target.style.backgroundImage = entry.target.getAttribute("data-sheet");
        watcher.unobserve(entry.target);
      });
    }, { rootMargin: "300px" });
    return watcher;
  }

  /* A picture element for image ``i`` in a list: an <img>, or a big run's sprite cell ``cell``, drawn once seen. */
  function picture(sprites, i, base, cell) {
    var element = document.createElement(sprites ? "span" : "img");
    if (sprites) {
      element.className = "sprite";
      element.setAttribute("role", "img");
      element.setAttribute("aria-label", "image " + i);
    } else {
      element.alt = "image " + i;
      element.loading = "lazy";
    }
    setPicture(element, sprites, i, base, cell, true);
    return element;
  }

  /* A big run's model page has the data of a sample of its images (``ids``): spread each per-image array over
     the image numbers, so that the page reads it as a small run's. */
  function spreadSample(images) {
    if (!images.ids) { return; }
    function spread(list) {
      var out = [];
      images.ids.forEach(function (id, j) { out[id] = list[j]; });
      return out;
    }
    ["true", "predicted", "confidence", "row", "cells"].forEach(function (key) { if (images[key]) { images[key] = spread(images[key]); } });
    images.clusters = images.clusters.map(spread);
    (images.colourBy || []).forEach(function (by) { by.codes = spread(by.codes); });
  }

  layerlens.load = whenLoaded;
  layerlens.imageName = imageName;
  layerlens.picture = picture;
  layerlens.setPicture = setPicture;
  layerlens.percent = percent;
  layerlens.numberList = numberList;
  layerlens.forgetQuery = forgetQuery;
  layerlens.noLink = noLink;
  layerlens.fillClusters = fillClusters;
  layerlens.wantedFilters = wantedFilters;
  layerlens.filterLists = filterLists;
  layerlens.followGalleryAddress = followGalleryAddress;
  layerlens.listenToFilters = listenToFilters;
  layerlens.downloadCsv = downloadCsv;

  // Probes (images of no class) follow the analysed images, from images.nImages on.
  function isProbe(images, i) { return images.nImages !== undefined && i >= images.nImages; }

  function isWrong(images, i) {
    return Boolean(images.true) && !isProbe(images, i) && images.true[i] !== images.predicted[i];
  }

  function describe(images, i) {
    var predicted = images.classes[images.predicted[i]];
    var label = isProbe(images, i) ? "probe → " + predicted
      : images.true ? images.classes[images.true[i]] + " → " + predicted : predicted;
    return label + " " + percent(images.confidence[i]);
  }

  /* ---- model page: the image grid below the paths diagram ---- */

  function imageGrid(images) {
    var grid = document.getElementById("image-grid");
    var status = document.getElementById("grid-status");
    var more = document.getElementById("grid-more");
    var clear = document.getElementById("grid-clear");
    var pages = new Set(images.pages);
    var shown = [];
    var count = 0;
    var all = images.ids ? images.ids.slice() : images.predicted.map(function (_, i) { return i; });
    // Unfiltered, the mistakes come first: a grid of the first few hundred correct images tells little.
    var wrong = function (i) { return isWrong(images, i) ? 0 : 1; };
    // (a big run's sample comes in the order of its sprite sheets: the gallery's mistakes first, most confident first)
    var overview = images.ids ? all.slice() : all.slice().sort(function (a, b) { return wrong(a) - wrong(b) || a - b; });

    function thumb(i) {
      var item = document.createElement("li");
      item.className = "thumb" + (isWrong(images, i) ? " wrong" : "");
      var holder = item;
      if (pages.has(i) || images.sprites) {
        holder = document.createElement("a");
        holder.href = pages.has(i) ? grid.getAttribute("data-samples") + imageName(i) + ".html" : "sample.html#" + i;
        item.appendChild(holder);
      }
      var img = picture(images.sprites, i, grid.getAttribute("data-images"), images.cells && images.cells[i]);
      var caption = document.createElement("span");
      caption.className = "caption";
      caption.textContent = describe(images, i);
      holder.appendChild(img);
      holder.appendChild(caption);
      return item;
    }

    function showMore() {
      var end = Math.min(count + GRID_STEP, shown.length);
      var fragment = document.createDocumentFragment();
      for (; count < end; count++) { fragment.appendChild(thumb(shown[count])); }
      grid.appendChild(fragment);
      more.hidden = count >= shown.length;
      more.textContent = "Show more (" + (shown.length - count) + " left)";
    }

    function show(list, text, filtered) {
      shown = list;
      count = 0;
      grid.textContent = "";
      status.textContent = text;
      clear.hidden = !filtered;
      showMore();
    }

    function showAll() {
      var probes = all.length - (images.nImages === undefined ? all.length : images.nImages);
      var n = images.ids ? all.filter(function (i) { return !isProbe(images, i); }).length : all.length - probes;
      if (images.ids) { probes = all.length - n; }
      show(overview, (images.ids ? "The " + n + " sampled images (of " + images.nImages + ")" : "All " + n + " images") +
        (probes ? " and " + probes + " probes" : "") + (images.true ? ", mistakes first (outlined in red)." : "."), false);
    }

    more.addEventListener("click", showMore);
    clear.addEventListener("click", function () { showAll(); forgetQuery(); });
    showAll();

    var api = {
      all: showAll,
      /* The images a link lists (?images=), in its order. */
      list: function (chosen) {
        chosen = chosen.filter(function (i) { return images.predicted[i] !== undefined; });
        show(chosen, "The " + (chosen.length === 1 ? "image" : plural(chosen.length, "image")) +
          " a finding names, most telling first.", true);
      },
      cluster: function () {}
    };

    // The same filter from lists, for the keyboard: every image of a layer's cluster.
    var form = document.getElementById("cluster-filter");
    if (form) {
      var layerSelect = form.elements.layer;
      var clusterSelect = form.elements.cluster;
      images.layers.forEach(function (name, l) {
        var option = document.createElement("option");
        option.value = String(l);
        option.textContent = name;
        layerSelect.appendChild(option);
      });
      var fillClusters = function () {
        clusterSelect.textContent = "";
        images.clusterNames[Number(layerSelect.value)].forEach(function (name, c) {
          var option = document.createElement("option");
          option.value = String(c);
          option.textContent = name;
          clusterSelect.appendChild(option);
        });
      };
      layerSelect.addEventListener("change", fillClusters);
      fillClusters();
      var showCluster = function (l, c) {
        var chosen = all.filter(function (i) { return images.clusters[l][i] === c; });
        show(chosen, chosen.length + " image" + (chosen.length === 1 ? "" : "s") + " in " +
          images.clusterNames[l][c] + " of layer " + images.layers[l] + ".", true);
      };
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        showCluster(Number(layerSelect.value), Number(clusterSelect.value));
      });
      api.cluster = function (l, c) {
        layerSelect.value = String(l);
        fillClusters();
        clusterSelect.value = String(c);
        showCluster(l, c);
      };
    }

    var diagram = document.getElementById("paths-figure");
    if (diagram && diagram.on) {
      diagram.on("plotly_click", function (event) {
        var rows = new Set(event.points.map(function (p) { return p.pointNumber; }));
        var chosen = all.filter(function (i) { return rows.has(images.row[i]); });
        var what = event.constraints && Object.keys(event.constraints).length === 1 ? "box" : "ribbon";
        show(chosen, chosen.length + " image" + (chosen.length === 1 ? "" : "s") + " pass through the chosen " + what + ".", true);
        document.getElementById("grid-status").scrollIntoView({ block: "nearest" });
      });
    }
    return api;
  }

  /* ---- model page: one map per layer, behind tabs ---- */

  var TYPED = { i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
    f4: Float32Array, f8: Float64Array };

  /* A figure's array as a plain array: plotly's JSON keeps numeric arrays as base64 ("bdata") of a dtype. */
  function values(array) {
    if (!array || Array.isArray(array)) { return array || []; }
    if (array.bdata === undefined || !TYPED[array.dtype]) { return []; }
    var bytes = window.atob(array.bdata);
    var buffer = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) { buffer[i] = bytes.charCodeAt(i); }
    return Array.prototype.slice.call(new TYPED[array.dtype](buffer.buffer));
  }

  /* The map with its image points regrouped by a metadata column: one trace per value (then one of its
     misclassified images, diamonds on top); probes, doubt rings and cluster centres stay as they were. */
  function colouredBy(json, by, labelled) {
    var groups = by.names.map(function () { return { right: [], wrong: [] }; });
    var kept = [];
    var looks = {};
    json.data.forEach(function (trace) {
      var symbol = trace.marker && trace.marker.symbol;
      if (trace.customdata === undefined || (symbol !== "circle" && symbol !== "diamond")) {
        kept.push(trace);
        return;
      }
      looks[symbol] = looks[symbol] || trace;
      var xs = values(trace.x), ys = values(trace.y), ids = values(trace.customdata);
      ids.forEach(function (id, j) {
        groups[by.codes[id]][symbol === "diamond" ? "wrong" : "right"].push([xs[j], ys[j], id]);
      });
    });
    function trace(points, g, wrong) {
      var look = looks[wrong ? "diamond" : "circle"] || looks.circle || looks.diamond;
      var marker = Object.assign({}, look.marker, { color: by.colours[g] });
      if (wrong) { marker.symbol = "diamond"; }
      return {
        type: look.type, mode: "markers", name: by.labels[g] + (wrong ? " misclassified" : ""),
        legendgroup: "group-" + g, showlegend: !wrong, hoverinfo: "none",
        x: points.map(function (p) { return p[0]; }), y: points.map(function (p) { return p[1]; }),
        customdata: points.map(function (p) { return p[2]; }), marker: marker
      };
    }
    var right = [], wrong = [];
    groups.forEach(function (group, g) {
      if (group.right.length || group.wrong.length) { right.push(trace(group.right, g, false)); }
      if (group.wrong.length) { wrong.push(trace(group.wrong, g, true)); }
    });
    var layout = Object.assign({}, json.layout);
    layout.legend = Object.assign({}, layout.legend, { title: { text: by.title } });
    var title = layout.title && layout.title.text ? String(layout.title.text).split("<br>")[0] : "";
    layout.title = Object.assign({}, layout.title, {
      text: title + "<br><span style='font-size:12px;color:#555555'>colour = " + by.title +
        "; × = cluster centre" + (labelled ? "; ◆ = misclassified image" : "") + "</span>"
    });
    return { data: right.concat(wrong, kept), layout: layout };
  }

  function layerMaps(images) {
    var figure = document.getElementById("map-figure");
    var tabs = Array.prototype.slice.call(document.querySelectorAll("[role=tab][data-map]"));
    var card = document.getElementById("map-hover");
    var colour = document.getElementById("map-colour");
    var pages = new Set(images.pages);
    var current = null;

    function colouring() {
      return colour && colour.value !== "" && images.colourBy ? images.colourBy[Number(colour.value)] : null;
    }

    function select(tab, focus) {
      tabs.forEach(function (other) {
        var on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        other.tabIndex = on ? 0 : -1;
      });
      if (focus) { tab.focus(); }
      var layer = Number(tab.getAttribute("data-map"));
      document.getElementById("map-panel").setAttribute("aria-labelledby", tab.id);
      current = layer;
      draw(layer);
    }

    function draw(layer) {
      whenLoaded("map-" + layer, figure.getAttribute("data-src") + layer + ".js", function (json) {
        if (current !== layer) { return; }
        var by = colouring();
        plot(figure, by ? colouredBy(json, by, Boolean(images.true)) : json, false).then(bindHover);
      });
    }
    if (colour) { colour.addEventListener("change", function () { if (current !== null) { draw(current); } }); }

    var bound = false;
    function bindHover() {
      if (bound) { return; }
      bound = true;
      figure.on("plotly_hover", function (event) {
        var point = event.points[0];
        if (typeof point.customdata !== "number") { return; }
        var i = point.customdata;
        setPicture(card.querySelector("img, .sprite"), images.sprites, i, "images/", images.cells && images.cells[i], false);
        var by = colouring();
        var group = by && !isProbe(images, i) ? " · " + by.column + ": " + by.names[by.codes[i]] : "";
        card.querySelector("span:not(.sprite)").textContent =
          "image " + i + ": " + describe(images, i) + " · " + images.clusterNames[current][images.clusters[current][i]] +
          group;
        var x = event.event ? event.event.clientX : 0;
        var y = event.event ? event.event.clientY : 0;
        card.hidden = false;  // shown first, so that its size is known
        card.style.left = Math.max(8, Math.min(x + 16, window.innerWidth - card.offsetWidth - 8)) + "px";
        card.style.top = Math.max(8, Math.min(y + 16, window.innerHeight - card.offsetHeight - 8)) + "px";
      });
      figure.on("plotly_unhover", function () { card.hidden = true; });
      figure.on("plotly_click", function (event) {
        var i = event.points[0].customdata;
        if (typeof i === "number" && pages.has(i)) { window.location.href = "samples/" + imageName(i) + ".html"; }
        else if (typeof i === "number" && images.sprites) { window.location.href = "sample.html#" + i; }
      });
    }

    tabs.forEach(function (tab, position) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (event.key === "Home") { step = -position; }
        if (event.key === "End") { step = tabs.length - 1 - position; }
        if (step === undefined) { return; }
        event.preventDefault();
        select(tabs[(position + step + tabs.length) % tabs.length], true);
      });
    });
    if (tabs.length) { select(tabs[0], false); }

    return {
      /* Show layer ``l``'s map, coloured by the metadata column named ``column`` (null: by cluster). */
      layer: function (l, column) {
        if (colour) {
          var option = Array.prototype.find.call(colour.options, function (o) { return o.value !== "" && o.textContent === column; });
          colour.value = option ? option.value : "";
        }
        if (tabs[l]) { select(tabs[l], false); }
      }
    };
  }

  /* ---- model page: links of "What stands out" (and any address) to a layer's map or a list of images ---- */

  /* Apply what ``address`` asks for: ?layer=L#maps a layer's map (&colour=COLUMN), ?layer=L&cluster=C a
     cluster's images, ?images=1,5,9 those images, in the image grid. ``again``: the reader went back or
     forward, so an address without a filter shows every image again. Returns where to scroll, or null. */
  function followModelAddress(address, images, grid, maps) {
    var params = new URL(address).searchParams;
    var layer = whole(params.get("layer"), images.layers.length);
    var cluster = layer === null ? null : whole(params.get("cluster"), images.clusterNames[layer].length);
    var target = null;
    if (params.has("images")) {
      grid.list(numberList(params.get("images")));
      target = "cluster-filter";
    } else if (cluster !== null) {
      grid.cluster(layer, cluster);
      target = "cluster-filter";
    }
    if (layer !== null && maps) {
      maps.layer(layer, params.get("colour"));
      target = target || "maps";
    }
    return target;
  }

  function modelLinks(images, grid, maps) {
    function follow(address, scroll) {
      var target = followModelAddress(address, images, grid, maps);
      if (target === null && !scroll) { grid.all(); }
      var element = document.getElementById(target || (new URL(address).hash.slice(1)) || "main");
      if (element && scroll) { element.scrollIntoView({ block: "start" }); }
    }
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-here]") : null;
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
      event.preventDefault();
      try {
        window.history.pushState(null, "", link.href);
      } catch (error) { /* the address stays; the page shows what the link names all the same */ }
      follow(link.href, true);
    });
    window.addEventListener("popstate", function () { follow(window.location.href, false); });
    if (window.location.search) { follow(window.location.href, true); }
  }

  /* ---- gallery: filters, sorting, CSV ---- */

  /* The pieces below serve both galleries: a small run's (gallery(), which filters the items on the page) and a
     big run's paged one (big.js, which filters the rows of its data scripts). The form is the same in both. */

  function csvField(value) {
    var text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) { text = "'" + text; }  // a spreadsheet would run it as a formula
    return '"' + text.replace(/"/g, '""') + '"';
  }

  /* What a link asked for beyond the form's lists (?path=, ?images=), and what it asked for that is not here:
     nothing yet. */
  function noLink() { return { path: null, images: null, inOrder: false, missing: "" }; }

  /* List "any" and the clusters of the layer chosen in ``form`` (``clusterNames[layer]``) in its cluster list. */
  function fillClusters(form, clusterNames) {
    var select = form.elements.cluster;
    var layer = Number(form.elements.layer.value);
    select.textContent = "";
    var any = document.createElement("option");
    any.value = "";
    any.textContent = "any";
    select.appendChild(any);
    clusterNames[layer].forEach(function (name, c) {
      var option = document.createElement("option");
      option.value = String(c);
      option.textContent = name;
      select.appendChild(option);
    });
  }

  /* The form's lists that filter: all but the layer (it only says whose clusters the cluster list offers) and
     the order. */
  function filterLists(form) {
    return Array.prototype.filter.call(form.querySelectorAll("select"), function (select) {
      return select.name !== "layer" && select.name !== "sort";
    });
  }

  /* What the form's lists ask for, as their values ("": any): the true and predicted class, the cluster in
     ``layer``, and a [position, value] pair for each metadata list (scanner, site, ...) that names a value. */
  function wantedFilters(form) {
    return {
      true: form.elements.true ? form.elements.true.value : "",
      predicted: form.elements.predicted.value,
      cluster: form.elements.cluster.value,
      layer: Number(form.elements.layer.value),
      meta: Array.prototype.map.call(form.querySelectorAll("select[data-meta]"), function (select) {
        return [Number(select.getAttribute("data-meta")), select.value];
      }).filter(function (pair) { return pair[1] !== ""; })
    };
  }

  /* The option of ``select`` whose value (or, ``byText``, whose text) is ``wanted``, chosen; false when none is. */
  function choose(select, wanted, byText) {
    if (!select || wanted === null) { return false; }
    var option = Array.prototype.find.call(select.options, function (o) {
      return o.value !== "" && (byText ? o.textContent === wanted : o.value === wanted);
    });
    if (option) { select.value = option.value; }
    return Boolean(option);
  }

  /* A link's filters (?true=&predicted=, ?layer=&cluster=, ?meta=COLUMN&value=VALUE, ?path=, ?images=): into
     the form's lists, and what they cannot hold into ``linked``. */
  function followGalleryAddress(form, clusterNames, linked) {
    var params = new URLSearchParams(window.location.search);
    choose(form.elements.true, params.get("true"), false);
    choose(form.elements.predicted, params.get("predicted"), false);
    if (choose(form.elements.layer, params.get("layer"), false)) { fillClusters(form, clusterNames); }
    choose(form.elements.cluster, params.get("cluster"), false);
    if (params.has("meta")) {
      var column = params.get("meta");
      var value = params.get("value");
      var select = Array.prototype.find.call(form.querySelectorAll("select[data-column]"), function (s) {
        return s.getAttribute("data-column") === column;
      });
      if (!choose(select, value, true)) {
        linked.missing = " No filter here for " + column + (value === null ? "" : " “" + value + "”") + ".";
      }
    }
    if (params.has("path")) { linked.path = params.get("path"); }
    if (params.has("images")) {
      linked.images = numberList(params.get("images"));
      linked.inOrder = true;
    }
  }

  /* Make the form work: ``apply`` shows what it (and ``linked``) chooses, ``save`` downloads the CSV, the
     clear button forgets every filter. */
  function listenToFilters(form, clusterNames, linked, apply, save) {
    form.elements.layer.addEventListener("change", function () { fillClusters(form, clusterNames); apply(); });
    form.addEventListener("change", function (event) {
      if (event.target.name === "sort") { linked.inOrder = false; }  // the reader's order over the finding's
      if (event.target.name !== "layer") { apply(); }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    document.getElementById("gallery-csv").addEventListener("click", save);
    document.getElementById("gallery-clear").addEventListener("click", function () {
      filterLists(form).forEach(function (select) { select.value = ""; });
      // Emptied in place, not replaced: the caller's apply and the listener above hold this object.
      Object.assign(linked, noLink());
      forgetQuery();
      apply();
    });
  }

  /* Download the shown images as CSV: a header, then ``rows``, one an image (file, true and predicted class,
     confidence, path, doubt when ``info.doubt``, then its values of the metadata ``columns``). ``info``: the
     gallery's slug, labelled and doubt. */
  function downloadCsv(info, columns, rows) {
    var header = ["file", "true", "predicted", "confidence", "path"].concat(info.doubt ? ["doubt"] : []);
    var lines = [header.concat(columns.map(csvField)).join(",")];  // the metadata columns are users' names
    rows.forEach(function (row) { lines.push(row.map(csvField).join(",")); });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = info.slug + (info.labelled ? "-misclassified.csv" : "-unsure.csv");
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  function gallery() {
    var form = document.getElementById("gallery-filters");
    var list = document.getElementById("gallery");
    var status = document.getElementById("gallery-status");
    var clusterNames = JSON.parse(document.getElementById("gallery-layers").textContent);
    var meta = JSON.parse(document.getElementById("gallery-meta").textContent);
    // Each listed image's metadata values (by image number), in the order of meta.columns; "" when missing.
    var metaValues = JSON.parse(document.getElementById("gallery-values").textContent);
    var metaColumns = meta.columns || [];
    var items = Array.prototype.slice.call(list.children);
    var clear = document.getElementById("gallery-clear");
    var linked = noLink();

    function visible() { return items.filter(function (item) { return !item.hidden; }); }

    function apply() {
      var want = wantedFilters(form);
      var listed = linked.images ? new Map(linked.images.map(function (i, position) { return [String(i), position]; })) : null;
      items.forEach(function (item) {
        var clusters = item.getAttribute("data-clusters").split(" ");
        // Each item holds its value's position per metadata filter.
        var meta = (item.getAttribute("data-meta") || "").split(" ");
        item.hidden =
          (want.true !== "" && item.getAttribute("data-true") !== want.true) ||
          (want.predicted !== "" && item.getAttribute("data-predicted") !== want.predicted) ||
          (want.cluster !== "" && clusters[want.layer] !== want.cluster) ||
          want.meta.some(function (pair) { return meta[pair[0]] !== pair[1]; }) ||
          (linked.path !== null && item.getAttribute("data-path") !== linked.path) ||
          (listed !== null && !listed.has(item.getAttribute("data-index")));
      });
      var sort = form.elements.sort.value;
      var key = function (item) {
        if (listed && linked.inOrder) { return listed.has(item.getAttribute("data-index")) ? listed.get(item.getAttribute("data-index")) : Infinity; }
        if (sort === "index") { return Number(item.getAttribute("data-index")); }
        if (sort === "doubt-desc") { return -Number(item.getAttribute("data-doubt")); }
        var c = Number(item.getAttribute("data-confidence"));
        return sort === "confidence-asc" ? c : -c;
      };
      items.sort(function (a, b) {
        return key(a) - key(b) || Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
      });
      items.forEach(function (item) { list.appendChild(item); });
      var n = visible().length;
      var what = meta.labelled ? "mistakes" : "unsure predictions";
      var text = n + " of " + items.length + " images shown";
      if (linked.path !== null) { text += ": the " + what + " of path " + linked.path; }
      if (listed !== null) {
        var absent = listed.size - items.filter(function (item) { return listed.has(item.getAttribute("data-index")); }).length;
        text += (linked.path !== null ? "; " : ": ") + "the " + (listed.size === 1 ? "image" : plural(listed.size, "image")) +
          " a finding names" + (linked.inOrder ? ", most telling first" : "") +
          (absent ? " (" + absent + " of them " + (absent === 1 ? "is" : "are") + " not among the " + what + ")" : "");
      }
      status.textContent = text + "." + linked.missing;
      var chosen = filterLists(form).some(function (select) { return select.value !== ""; });
      clear.hidden = !(chosen || linked.path !== null || listed !== null || linked.missing);
    }

    function save() {
      downloadCsv(meta, metaColumns, visible().map(function (item) {
        var values = metaValues[item.getAttribute("data-index")] || metaColumns.map(function () { return ""; });
        return [
          item.getAttribute("data-file") || "image " + item.getAttribute("data-index"),
          item.getAttribute("data-true-name"),
          item.getAttribute("data-predicted-name"),
          Number(item.getAttribute("data-confidence")).toFixed(4),
          item.getAttribute("data-path")
        ].concat(meta.doubt ? [Number(item.getAttribute("data-doubt")).toFixed(4)] : [], values);
      }));
    }

    listenToFilters(form, clusterNames, linked, apply, save);
    fillClusters(form, clusterNames);
    followGalleryAddress(form, clusterNames, linked);
    apply();
  }

  /* ---- sample page: arrow keys walk the sequence ---- */

  function pager() {
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      // Arrows keep their own meaning in controls and in the (sideways scrolling) figures.
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey ||
          /^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(target.tagName) || (target.closest && target.closest(".figure-scroll"))) {
        return;
      }
      var link = document.getElementById({ ArrowLeft: "previous", ArrowRight: "next" }[event.key] || "");
      if (link) { window.location.href = link.href; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawFigures(false);
    setTimeout(function () { drawFigures(true); }, 0);
    var kind = document.body.className;
    if (kind === "page-model" && received.images) {
      spreadSample(received.images);
      var grid = imageGrid(received.images);
      var maps = layerMaps(received.images);
      modelLinks(received.images, grid, maps);
    } else if (kind === "page-gallery" && document.getElementById("gallery-filters") && !document.getElementById("gallery-paged")) {
      gallery();
    } else if (kind === "page-sample") {
      pager();
    }
  });
})();
