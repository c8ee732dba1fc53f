// Which view is on screen: the list (with the map), one station, signing in, or
// applying to join the union.

import { $ } from "../common/dom.js";
import { renderList } from "./list.js";
import { refreshMapSize } from "./map.js";
import { renderSearch } from "./search.js";
import { state } from "./state.js";

export function show(view) {
  state.view = view;
  $("list-view").hidden = view !== "list";
  $("station-view").hidden = view !== "station";
  $("signin-view").hidden = view !== "signin";
  $("apply-view").hidden = view !== "apply";
  if (view === "list") refreshMapSize();
  window.scrollTo(0, 0);
}

export function backToList() {
  state.station = null;
  show("list");
  renderList();
  renderSearch();
}
