// Document -> Markdown (GitHub flavour). Figures embed the PNG by its relative path.
#include <algorithm>

#include "report/document.hpp"

namespace anchorsweep {

namespace {

std::string md_text(const std::string& s, bool in_table = false) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += in_table ? "<br>" : "\n";
      continue;
    }
    if (c == '\\' || c == '*' || c == '_' || c == '`' || c == '<' || c == '[' || c == ']' ||
        (in_table && c == '|'))
      out += '\\';
    out += c;
  }
  return out;
}

std::string html_attr_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string md_table(const Table& t) {
  const size_t cols = t.header.size();
  std::vector<bool> numeric(cols, true);
  for (size_t c = 0; c < cols; ++c) {
    bool any = false;
    for (const auto& r : t.rows) {
      if (c >= r.size() || r[c].empty()) continue;
      any = true;
      numeric[c] = numeric[c] && looks_numeric(r[c]);
    }
    numeric[c] = numeric[c] && any;
  }
  std::string out = "|";
  for (const auto& h : t.header) out += " " + md_text(h, true) + " |";
  out += "\n|";
  for (size_t c = 0; c < cols; ++c) out += numeric[c] ? " ---: |" : " --- |";
  out += "\n";
  for (const auto& r : t.rows) {
    out += "|";
    for (size_t c = 0; c < cols; ++c) out += " " + (c < r.size() ? md_text(r[c], true) : "") + " |";
    out += "\n";
  }
  return out;
}

std::string fence_for(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

}  // namespace

std::string render_markdown(const Document& doc) {
  std::string out = "# " + md_text(doc.title) + "\n\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::Kind::Heading:
        out += std::string(static_cast<size_t>(std::clamp(b.level, 1, 6)), '#') + " " + md_text(b.text) + "\n\n";
        break;
      case Block::Kind::Paragraph:
        out += md_text(b.text) + "\n\n";
        break;
      case Block::Kind::Bullets:
        for (const auto& i : b.items) out += "- " + md_text(i) + "\n";
        out += "\n";
        break;
      case Block::Kind::Table:
        out += md_table(b.table) + "\n";
        break;
      case Block::Kind::Figure:
        out += "![" + md_text(b.text) + "](" + b.png_rel + ")\n\n*" + md_text(b.text) + "*\n\n";
        break;
      case Block::Kind::Callout:
        out += "> **" + std::string(name_of(b.callout)) + " — " + md_text(b.title) + ":** " + md_text(b.text) + "\n\n";
        break;
      case Block::Kind::Details: {
        const std::string fence = fence_for(b.pre);
        out += "<details><summary>" + html_attr_text(b.text) + "</summary>\n\n" + fence + b.label + "\n" + b.pre +
               (b.pre.empty() || b.pre.back() == '\n' ? "" : "\n") + fence + "\n\n</details>\n\n";
        break;
      }
    }
  }
  return out;
}

}  // namespace anchorsweep
