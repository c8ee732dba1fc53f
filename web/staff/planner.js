// The planner's coverage map: pick a city, a district of one's union branch or an area
// drawn on the map (a rectangle: two corners; a polygon: its corners, then "finish");
// choose the amenity, the time stations must be open and the band to aim at; see the
// bands and the gaps (workers outside the service circle) on a Leaflet map fed by the
// coverage API (GET /v1/coverage/areas and /summary), place candidate sites by clicking
// and have them ranked by the suggestion API (POST /v1/coverage/suggestions), or ask it
// for its own picks; download the gaps (CSV), the cells (GeoJSON, GeoParquet) and the
// self-contained map for a meeting. Leaflet is the service's own copy, loaded only here;
// a large catalog's stations are drawn from its vector tiles (common/tiles.js).

import { addBaseLayer } from "../common/basemap.js";
import { h } from "../common/dom.js";
import { label, lang, t } from "../common/i18n.js";
import { addCatalogTiles } from "../common/tiles.js";
import { api } from "./api.js";
import {
  CRS,
  SUGGESTED,
  drawAreas,
  drawDownloads,
  drawSummary,
  loadLeaflet,
  rankedList,
  select,
  withOffset,
} from "./planner-parts.js";
import { route } from "./router.js";
import { busy, config, message, problemText } from "./shell.js";

route(
  "/planner/map",
  async ({ root }) => {
    root.append(h("h2", {}, t("planner_title")), h("p", { class: "note" }, t("planner_why")));
    const [choices] = await Promise.all([api(`/v1/coverage/regions?lang=${lang()}`), loadLeaflet()]);
    if (!choices.ok) {
      root.append(message("error", problemText(choices)));
      return;
    }
    const regions = choices.data;
    const name = (c) => (lang() === "en" ? c.name_en : c.name_zh);
    const regionOptions = [
      { group: t("planner_cities"), options: regions.cities.map((c) => ({ value: `city:${c.city}`, text: name(c) })) },
      {
        group: t("planner_districts"),
        options: regions.districts.map((d) => ({
          value: `district:${d.district}`,
          text: d.district_code ? `${d.district}（${d.district_code}）` : d.district,
        })),
      },
      { group: t("planner_drawn"), options: [{ value: "drawn", text: t("planner_drawn_area") }] },
    ];
    const amenities = Object.keys(config.vocab.amenities).map((key) => ({
      value: key,
      text: label(config.vocab.amenities[key], key),
    }));
    const bands = regions.bands.map((b) => ({ value: b.name, text: b.label }));
    const run = h("button", { type: "submit", class: "primary" }, t("planner_show"));
    const form = h(
      "form",
      { class: "form planner-form", novalidate: true },
      h(
        "div",
        { class: "planner-fields" },
        h("div", {}, ...select("planner-region", "planner_region", regionOptions)),
        h(
          "div",
          {},
          ...select("planner-amenity", "planner_amenity", [{ value: "", text: t("planner_any") }, ...amenities]),
        ),
        h(
          "div",
          {},
          h("label", { for: "planner-open-at" }, t("planner_open_at")),
          h("input", { id: "planner-open-at", name: "planner-open-at", type: "datetime-local" }),
        ),
        h("div", {}, ...select("planner-target", "planner_target", bands)),
      ),
      run,
    );
    form.elements["planner-target"].value = regions.target;

    // Drawing an area: a rectangle from two corners, a polygon from its corners.
    const drawHint = h("p", { class: "hint", id: "planner-draw-hint", "aria-live": "polite" });
    const drawRect = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, t("planner_draw_rect"));
    const drawPoly = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, t("planner_draw_poly"));
    const finish = h("button", { type: "button", class: "secondary", hidden: true }, t("planner_draw_finish"));
    const drawTools = h("div", { class: "planner-draw", hidden: true }, drawRect, drawPoly, finish, drawHint);

    const mapBox = h("div", { id: "planner-map", class: "map planner-map", role: "region", "aria-label": t("planner_map_label") });
    const centre = h("button", { type: "button", class: "secondary centre-button", id: "planner-centre" }, t("planner_centre"));
    const legend = h("ul", { class: "legend", "aria-label": t("planner_legend") });
    const summary = h("div", { id: "planner-summary", "aria-live": "polite" });
    const candidatesList = h("ol", { id: "planner-candidates", class: "candidates" });
    const rankButton = h("button", { type: "button", class: "primary", disabled: true }, t("planner_rank"));
    const suggestButton = h("button", { type: "button", class: "secondary", disabled: true }, t("planner_suggest"));
    const clearButton = h("button", { type: "button", class: "secondary", disabled: true }, t("planner_clear"));
    const ranking = h("div", { id: "planner-ranking", "aria-live": "polite" });
    const downloads = h("ul", { class: "downloads", id: "planner-downloads" });
    const candidatesCard = h(
      "section",
      { class: "card", "aria-labelledby": "planner-candidates-heading", hidden: true },
      h("h3", { id: "planner-candidates-heading" }, t("planner_candidates")),
      h("p", { class: "note" }, t("planner_candidates_why")),
      candidatesList,
      h("div", { class: "actions" }, rankButton, suggestButton, clearButton),
      ranking,
    );
    const downloadsCard = h(
      "section",
      { class: "card", "aria-labelledby": "planner-downloads-heading", hidden: true },
      h("h3", { id: "planner-downloads-heading" }, t("planner_downloads")),
      downloads,
    );
    root.append(
      form,
      drawTools,
      mapBox,
      centre,
      legend,
      summary,
      h("div", { class: "columns" }, candidatesCard, downloadsCard),
    );

    const map = L.map(mapBox, {
      zoomControl: false,
      zoomSnap: 0.25,
      attributionControl: Boolean(config.tiles.url),
    });
    L.control.zoom({ zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
    addBaseLayer(map, config.tiles); // online tiles, the local base map or the reference outlines
    // A catalog too large for markers (the service says so in the config): its stations
    // from the vector tiles, counts per H3 cell when zoomed out and every station from
    // street zoom, under the bands. A click still places a candidate site.
    if (config.vector_tiles) addCatalogTiles(map, config.vector_tiles, { taps: false }).catch(() => {});
    // The first city until a region is shown; fitted once the view is on the page (a
    // map not yet in the document has no size to fit into).
    const first = regions.cities[0];
    const opening = () =>
      first
        ? map.fitBounds([[first.bbox[1], first.bbox[0]], [first.bbox[3], first.bbox[2]]])
        : map.setView([34.0, 116.8], 11);
    opening();
    const areasLayer = L.layerGroup().addTo(map);
    const drawLayer = L.layerGroup().addTo(map);
    const candidateLayer = L.layerGroup().addTo(map);
    const suggestionLayer = L.layerGroup().addTo(map);

    // What the page holds: the query of the shown map, the drawn area, the candidates.
    const page = { params: null, drawing: null, corners: [], drawn: null, candidates: [], ranks: new Map(), next: 1 };

    function regionParams() {
      const value = form.elements["planner-region"].value;
      const params = new URLSearchParams();
      if (value.startsWith("city:")) params.set("city", value.slice(5));
      else if (value.startsWith("district:")) params.set("district", value.slice(9));
      else if (page.drawn) params.set("polygon", JSON.stringify(page.drawn));
      else return null;
      const amenity = form.elements["planner-amenity"].value;
      if (amenity) params.set("amenity", amenity);
      const openAt = withOffset(form.elements["planner-open-at"].value);
      if (openAt) params.set("open_at", openAt);
      params.set("target", form.elements["planner-target"].value);
      params.set("crs", CRS);
      params.set("lang", lang());
      return params;
    }

    function showDrawTools() {
      drawTools.hidden = form.elements["planner-region"].value !== "drawn";
    }
    form.elements["planner-region"].addEventListener("change", showDrawTools);

    function setDrawing(mode) {
      page.drawing = mode;
      page.corners = [];
      drawLayer.clearLayers();
      drawRect.setAttribute("aria-pressed", String(mode === "rect"));
      drawPoly.setAttribute("aria-pressed", String(mode === "poly"));
      finish.hidden = mode !== "poly";
      drawHint.textContent = mode ? t(`planner_hint_${mode}`) : page.drawn ? t("planner_area_ready") : "";
      mapBox.classList.toggle("drawing", Boolean(mode));
    }
    drawRect.addEventListener("click", () => setDrawing(page.drawing === "rect" ? null : "rect"));
    drawPoly.addEventListener("click", () => setDrawing(page.drawing === "poly" ? null : "poly"));

    function closeArea(ring) {
      const coords = ring.map(([lat, lng]) => [Number(lng.toFixed(6)), Number(lat.toFixed(6))]);
      coords.push(coords[0]);
      page.drawn = { type: "Polygon", coordinates: [coords] };
      setDrawing(null);
      L.polygon(ring, { color: "#1d4ed8", weight: 3, fill: false, interactive: false, className: "ls-drawn-area" }).addTo(
        drawLayer,
      );
    }
    finish.addEventListener("click", () => {
      if (page.corners.length < 3) {
        drawHint.textContent = t("planner_need_three");
        return;
      }
      closeArea(page.corners);
    });

    function drawCandidates() {
      candidateLayer.clearLayers();
      candidatesList.replaceChildren(
        ...page.candidates.map((c) => {
          const rank = page.ranks.get(c.id);
          const marker = L.circleMarker([c.lat, c.lng], {
            radius: 9,
            weight: 3,
            color: "#ffffff",
            fillColor: rank ? "#1d4ed8" : "#4b5563",
            fillOpacity: 1,
            className: `ls-candidate ls-candidate-${c.id}`,
          });
          marker.bindTooltip(rank ? `${c.name} · #${rank.rank}` : c.name, { permanent: true, direction: "right" });
          marker.addTo(candidateLayer);
          const remove = h(
            "button",
            { type: "button", class: "secondary", "aria-label": t("planner_remove", { name: c.name }) },
            t("remove"),
          );
          remove.addEventListener("click", () => {
            page.candidates = page.candidates.filter((x) => x !== c);
            page.ranks.clear();
            ranking.replaceChildren();
            drawCandidates();
          });
          return h("li", {}, h("span", {}, `${c.name} · ${c.lat.toFixed(5)}, ${c.lng.toFixed(5)}`), remove);
        }),
      );
      rankButton.disabled = !page.candidates.length || !page.params;
      clearButton.disabled = !page.candidates.length;
    }

    // A click on the map, or the button below it for the point under the map's centre
    // mark (keyboard: focus the map, move it with the arrow keys, press the button).
    function placeAt({ lat, lng }) {
      if (page.drawing === "rect") {
        page.corners.push([lat, lng]);
        L.circleMarker([lat, lng], { radius: 5, color: "#1d4ed8", interactive: false }).addTo(drawLayer);
        if (page.corners.length === 2) {
          const [[a, b], [c, d]] = page.corners;
          closeArea([[a, b], [a, d], [c, d], [c, b]]);
        }
        return;
      }
      if (page.drawing === "poly") {
        page.corners.push([lat, lng]);
        drawLayer.clearLayers();
        L.polyline(page.corners, { color: "#1d4ed8", weight: 3, interactive: false }).addTo(drawLayer);
        return;
      }
      if (!page.params) return; // candidates belong to a shown map
      const n = page.next++;
      page.candidates.push({ id: String(n), name: t("planner_site", { n }), lat, lng });
      page.ranks.clear();
      ranking.replaceChildren();
      drawCandidates();
    }
    map.on("click", (event) => placeAt(event.latlng));
    centre.addEventListener("click", () => placeAt(map.getCenter()));

    form.addEventListener(
      "submit",
      busy(run, async () => {
        const params = regionParams();
        if (!params) {
          summary.replaceChildren(message("error", t("planner_draw_first")));
          return;
        }
        summary.replaceChildren(h("p", { class: "note" }, t("planner_working")));
        const [areas, totals] = await Promise.all([
          api(`/v1/coverage/areas?${params}`),
          api(`/v1/coverage/summary?${params}&top=5`),
        ]);
        if (!areas.ok || !totals.ok) {
          summary.replaceChildren(message("error", problemText(areas.ok ? totals : areas)));
          return;
        }
        page.params = params;
        suggestionLayer.clearLayers();
        page.ranks.clear();
        ranking.replaceChildren();
        drawAreas({ map, areasLayer, legend, bands: regions.bands }, areas.data);
        drawSummary(summary, totals.data);
        drawDownloads(downloads, params);
        downloadsCard.hidden = false;
        candidatesCard.hidden = false;
        suggestButton.disabled = false;
        drawCandidates();
      }),
    );

    rankButton.addEventListener(
      "click",
      busy(rankButton, async () => {
        const body = {
          crs: CRS,
          candidates: page.candidates.map((c) => ({ id: c.id, name: c.name, lat: c.lat, lng: c.lng })),
        };
        const query = new URLSearchParams(page.params);
        query.set("suggest", String(page.candidates.length));
        query.set("min_gain", "0");
        const answer = await api(`/v1/coverage/suggestions?${query}`, { method: "POST", body });
        if (!answer.ok) {
          ranking.replaceChildren(message("error", problemText(answer)));
          return;
        }
        page.ranks = new Map(answer.data.sites.map((s) => [s.id, s]));
        const unranked = page.candidates.filter((c) => !page.ranks.has(c.id));
        const nothing =
          unranked.length && answer.data.sites.length
          ? [h("p", { class: "note" }, t("planner_adds_nothing", { names: unranked.map((c) => c.name).join("、") }))]
          : [];
        ranking.replaceChildren(
          h("h4", {}, t("planner_ranked")),
          rankedList(answer.data, (s) => s.name),
          ...nothing,
          h("p", { class: "hint" }, answer.data.guarantee),
        );
        drawCandidates();
      }),
    );

    suggestButton.addEventListener(
      "click",
      busy(suggestButton, async () => {
        const query = new URLSearchParams(page.params);
        query.set("suggest", String(SUGGESTED));
        const answer = await api(`/v1/coverage/suggestions?${query}`);
        if (!answer.ok) {
          ranking.replaceChildren(message("error", problemText(answer)));
          return;
        }
        suggestionLayer.clearLayers();
        for (const s of answer.data.sites) {
          L.circleMarker([s.lat, s.lng], { radius: 8, weight: 3, color: "#ffffff", fillColor: "#7c3aed", fillOpacity: 1 })
            .bindTooltip(t("planner_suggested", { n: s.rank }), { permanent: true, direction: "left" })
            .addTo(suggestionLayer);
        }
        ranking.replaceChildren(
          h("h4", {}, t("planner_suggestions")),
          rankedList(answer.data, (s) => t("planner_suggested", { n: s.rank })),
        );
      }),
    );

    clearButton.addEventListener("click", () => {
      page.candidates = [];
      page.ranks.clear();
      page.next = 1;
      ranking.replaceChildren();
      drawCandidates();
    });

    showDrawTools();
    setTimeout(() => {
      map.invalidateSize();
      if (!page.params) opening();
    }, 0);
  },
  { roles: ["planner", "admin"] },
);
