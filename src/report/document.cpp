#include "report/document.hpp"

#include <cctype>

namespace anchorsweep {

void Document::heading(int level, const std::string& text) {
  Block b;
  b.kind = Block::Kind::Heading;
  b.level = level;
  b.text = text;
  blocks.push_back(b);
}

void Document::paragraph(const std::string& text) {
  Block b;
  b.kind = Block::Kind::Paragraph;
  b.text = text;
  blocks.push_back(b);
}

void Document::bullets(const std::vector<std::string>& items) {
  Block b;
  b.kind = Block::Kind::Bullets;
  b.items = items;
  blocks.push_back(b);
}

void Document::table(const Table& t) {
  Block b;
  b.kind = Block::Kind::Table;
  b.table = t;
  blocks.push_back(b);
}

void Document::figure(const std::string& caption, const std::string& png_rel, const std::string& svg) {
  Block b;
  b.kind = Block::Kind::Figure;
  b.text = caption;
  b.png_rel = png_rel;
  b.svg = svg;
  blocks.push_back(b);
}

void Document::callout(Level level, const std::string& title, const std::string& text) {
  Block b;
  b.kind = Block::Kind::Callout;
  b.callout = level;
  b.title = title;
  b.text = text;
  blocks.push_back(b);
}

void Document::details(const std::string& summary, const std::string& verbatim, const std::string& lang) {
  Block b;
  b.kind = Block::Kind::Details;
  b.text = summary;
  b.pre = verbatim;
  b.label = lang;
  blocks.push_back(b);
}

bool looks_numeric(const std::string& cell) {
  if (cell.empty()) return false;
  const unsigned char c = static_cast<unsigned char>(cell[0]);
  return std::isdigit(c) || ((c == '-' || c == '+') && cell.size() > 1) || cell == "–" ||
         cell.rfind("−", 0) == 0;
}

}  // namespace anchorsweep
