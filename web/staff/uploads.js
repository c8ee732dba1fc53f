// The administrator's imports: choose a station file or a member list (Excel .xlsx or
// CSV, and for stations the importer's other formats), see what the import would do —
// counts and every problem by row, as a table — download the report as CSV, then
// confirm to import that very file (POST /v1/uploads, then /v1/uploads/{id}/confirm).

import { h } from "../common/dom.js";
import { has, t } from "../common/i18n.js";
import { api } from "./api.js";
import { failure } from "./campaigns.js";
import { go, route } from "./router.js";
import { busy, problemText } from "./shell.js";

const UPLOAD_TIMEOUT_MS = 180000; // a large file's dry run takes a while

function counts(report) {
  const c = report.counts;
  const figure = (key, value) => h("div", { class: "figure" }, h("dt", {}, t(key)), h("dd", {}, String(value)));
  return h(
    "dl",
    { class: "report-figures" },
    figure("u_read", c.read),
    figure("u_created", c.created),
    figure("u_updated", c.updated),
    figure("u_unchanged", c.unchanged),
    figure("u_rejected", c.rejected),
    figure("u_warnings", c.warnings),
  );
}

function problemsTable(report) {
  if (!report.problems.length) return h("p", { class: "done", role: "status" }, t("u_no_problems"));
  // The importer's reason is its own sentence (English, naming what to do); a known
  // code gets the console's words before it.
  const reason = (p) => (has(`pc_${p.code}`) ? [h("strong", {}, t(`pc_${p.code}`)), " · ", p.reason] : p.reason);
  const cell = (key, attrs, ...content) => h("td", { "data-label": t(key), ...attrs }, ...content);
  const rows = report.problems.map((p) =>
    h(
      "tr",
      { class: p.severity === "rejected" ? "bad" : null },
      h("th", { scope: "row", class: "num", "data-label": t("u_row") }, String(p.row)),
      cell("u_field", {}, p.field),
      cell("u_reason", {}, reason(p)),
      cell("u_value", { class: "mono" }, p.value ?? ""),
      cell("u_severity", { class: "outcome" }, t(p.severity === "rejected" ? "u_rejected_row" : "u_warning_row")),
    ),
  );
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("u_problems") },
    h(
      "table",
      { class: "report", id: "upload-problems" },
      h("caption", {}, t("u_problems")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["u_row", "u_field", "u_reason", "u_value", "u_severity"].map((key) => h("th", { scope: "col" }, t(key))),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function reportView(upload, { onConfirm }) {
  const done = upload.result !== null;
  const report = done ? upload.result : upload.dry_run;
  const totals = Object.entries(report.totals_by_code);
  const parts = [
    h("h3", { id: "upload-report" }, t(done ? "u_result_title" : "u_dry_title", { file: upload.filename })),
    done ? h("p", { class: "done", role: "status" }, t("u_imported", { n: report.counts.created + report.counts.updated })) : h("p", { class: "note" }, t("u_dry_note")),
    counts(report),
    ...report.notes.map((n) => h("p", { class: "note" }, n)),
    totals.length ? h("p", { class: "warn" }, t("u_by_code"), " ", totals.map(([code, n]) => `${has(`pc_${code}`) ? t(`pc_${code}`) : code} × ${n}`).join(" · ")) : null,
    h("p", { class: "note" }, t("u_numbering")),
    report.problems_total > report.problems.length
      ? h("p", { class: "note" }, t("u_first", { n: report.problems.length, total: report.problems_total }))
      : null,
    problemsTable(report),
  ];
  const download = h(
    "a",
    { class: "link-button", href: `/v1/uploads/${upload.id}/problems.csv`, download: "" },
    t("u_download_csv"),
  );
  if (done) {
    parts.push(h("div", { class: "actions two" }, download, h("button", { type: "button", class: "secondary", onclick: () => go("/admin/import") }, t("u_another"))));
  } else {
    const confirm = h(
      "button",
      { type: "button", class: "primary", disabled: report.counts.created + report.counts.updated === 0 ? true : null },
      t("u_confirm", { n: report.counts.created + report.counts.updated }),
    );
    confirm.addEventListener("click", busy(confirm, onConfirm));
    parts.push(h("div", { class: "actions two" }, confirm, download));
  }
  return h("section", { class: "card report-section", "aria-labelledby": "upload-report" }, ...parts);
}

route(
  "/admin/import",
  async ({ root }) => {
    root.classList.add("wide");
    const result = h("div", { id: "upload-result", "aria-live": "polite" });
    const kind = h(
      "select",
      { id: "upload-kind", name: "kind" },
      h("option", { value: "stations" }, t("u_kind_stations")),
      h("option", { value: "members" }, t("u_kind_members")),
    );
    const file = h("input", {
      type: "file",
      id: "upload-file",
      name: "file",
      accept: ".xlsx,.csv,.json,.geojson,.gpkg,.parquet",
      required: true,
      "aria-describedby": "upload-file-hint",
    });
    const sheet = h("input", { id: "upload-sheet", name: "sheet", maxlength: "100", autocomplete: "off" });
    const source = h("input", { id: "upload-source", name: "source", maxlength: "64", autocomplete: "off", "aria-describedby": "upload-source-hint" });
    const submit = h("button", { type: "submit", class: "primary" }, t("u_check"));

    const show = (upload) => {
      result.replaceChildren(
        reportView(upload, {
          onConfirm: async () => {
            const answer = await api(`/v1/uploads/${upload.id}/confirm`, { method: "POST", timeoutMs: UPLOAD_TIMEOUT_MS });
            if (!answer.ok) {
              result.append(h("p", { class: "error", role: "alert" }, problemText(answer)));
              return;
            }
            show(answer.data);
            result.querySelector("h3").focus?.();
          },
        }),
      );
    };

    const form = h(
      "form",
      {
        class: "form",
        onsubmit: busy(submit, async () => {
          if (!file.files.length) {
            result.replaceChildren(h("p", { class: "error", role: "alert" }, t("u_choose_file")));
            return;
          }
          const body = new FormData();
          const members = kind.value === "members";
          body.append("kind", kind.value);
          body.append("file", file.files[0]);
          if (sheet.value.trim()) body.append("sheet", sheet.value.trim());
          if (source.value.trim() && !members) body.append("source", source.value.trim());
          result.replaceChildren(h("p", { class: "note", role: "status" }, t("u_checking")));
          const answer = await api("/v1/uploads", { method: "POST", body, timeoutMs: UPLOAD_TIMEOUT_MS });
          if (!answer.ok) {
            // The importer's own sentence too: it names the column, sheet or line at fault.
            const detail = answer.data && answer.data.detail;
            result.replaceChildren(failure(answer), ...(detail ? [h("p", { class: "note mono" }, detail)] : []));
            return;
          }
          show(answer.data);
        }),
      },
      h("label", { for: "upload-kind" }, t("u_kind")),
      kind,
      h("label", { for: "upload-file" }, t("u_file")),
      h("p", { class: "hint", id: "upload-file-hint" }, t("u_file_hint")),
      file,
      h("label", { for: "upload-sheet" }, t("u_sheet")),
      sheet,
      h("label", { for: "upload-source" }, t("u_source")),
      h("p", { class: "hint", id: "upload-source-hint" }, t("u_source_hint")),
      source,
      h("div", { class: "actions" }, submit),
    );
    root.append(h("h2", {}, t("tile_import")), h("p", { class: "note" }, t("u_why")), form, result);
  },
  { roles: ["admin"] },
);
