// Document -> one self-contained HTML page: inline CSS, inline SVG figures, no external files.
#include <algorithm>

#include "report/document.hpp"

namespace anchorsweep {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* kCss = R"(
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #ccc;padding-bottom:.2em}h2{border-bottom:1px solid #e3e3e3;padding-bottom:.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #d6d6d6;padding:.25em .6em;vertical-align:top}th{background:#f3f3f3;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}tr:nth-child(even) td{background:#fafafa}
.callout{border-left:5px solid;padding:.5em .9em;margin:.6em 0;border-radius:3px}
.callout b{margin-right:.4em}.WARNING{border-color:#d62728;background:#fdecea}.NOTE{border-color:#e0a800;background:#fff8e1}
.OK{border-color:#2ca02c;background:#edf7ed}.NA{border-color:#999;background:#f4f4f4;color:#555}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:.85em}details{margin:.8em 0}summary{cursor:pointer;font-weight:600}
)";

std::string html_table(const Table& t) {
  const size_t cols = t.header.size();
  std::string out = "<table>\n<tr>";
  for (const auto& h : t.header) out += "<th>" + esc(h) + "</th>";
  out += "</tr>\n";
  for (const auto& r : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < cols; ++c) {
      const std::string cell = c < r.size() ? r[c] : "";
      out += std::string(looks_numeric(cell) ? "<td class=\"num\">" : "<td>") + esc(cell) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string render_html(const Document& doc) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                    esc(doc.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<h1>" +
                    esc(doc.title) + "</h1>\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::Kind::Heading: {
        const std::string h = "h" + std::to_string(std::clamp(b.level, 1, 6));
        out += "<" + h + ">" + esc(b.text) + "</" + h + ">\n";
        break;
      }
      case Block::Kind::Paragraph:
        out += "<p>" + esc(b.text) + "</p>\n";
        break;
      case Block::Kind::Bullets:
        out += "<ul>\n";
        for (const auto& i : b.items) out += "<li>" + esc(i) + "</li>\n";
        out += "</ul>\n";
        break;
      case Block::Kind::Table:
        out += html_table(b.table);
        break;
      case Block::Kind::Figure:
        out += "<figure>\n" + b.svg + "\n<figcaption>" + esc(b.text) + "</figcaption>\n</figure>\n";
        break;
      case Block::Kind::Callout:
        // The CSS class is the level's name (N/A as NA: no slash in a class name).
        out += "<div class=\"callout " + std::string(b.callout == Level::na ? "NA" : name_of(b.callout)) + "\"><b>" +
               esc(name_of(b.callout)) + " — " + esc(b.title) + ":</b>" + esc(b.text) + "</div>\n";
        break;
      case Block::Kind::Details:
        out += "<details><summary>" + esc(b.text) + "</summary>\n<pre>" + esc(b.pre) + "</pre>\n</details>\n";
        break;
    }
  }
  return out + "</body>\n</html>\n";
}

}  // namespace anchorsweep
