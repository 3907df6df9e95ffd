// A small document model: the report's content is built once and rendered twice, as
// Markdown (report.md) and as self-contained HTML (report.html).
#pragma once

#include <string>
#include <vector>

#include "common/names.hpp"

namespace anchorsweep {

// A callout's (and a diagnostic finding's) level: WARNING, NOTE, OK (a check ran and found
// nothing) or N/A (it could not run).
enum class Level { warning, note, ok, na };
ANCHORSWEEP_NAMES(Level, 4, {Level::warning, "WARNING"}, {Level::note, "NOTE"}, {Level::ok, "OK"}, {Level::na, "N/A"});

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  enum class Kind { Heading, Paragraph, Bullets, Table, Figure, Callout, Details };
  Kind kind = Kind::Paragraph;
  int level = 2;                    // Heading
  std::string text;                 // Heading, Paragraph, Callout body, Figure caption, Details summary
  Level callout = Level::note;      // Callout
  std::string label;                // Details: code language
  std::string title;                // Callout title
  std::vector<std::string> items;   // Bullets
  Table table;                      // Table
  std::string png_rel, svg;         // Figure (Markdown embeds the PNG, HTML inlines the SVG)
  std::string pre;                  // Details: verbatim text
};

struct Document {
  std::string title;
  std::vector<Block> blocks;

  void heading(int level, const std::string& text);
  void paragraph(const std::string& text);
  void bullets(const std::vector<std::string>& items);
  void table(const Table& t);
  void figure(const std::string& caption, const std::string& png_rel, const std::string& svg);
  void callout(Level level, const std::string& title, const std::string& text);
  void details(const std::string& summary, const std::string& verbatim, const std::string& lang = "");
};

std::string render_markdown(const Document& doc);
std::string render_html(const Document& doc);

// True when a cell reads as a number (right-aligned in tables).
bool looks_numeric(const std::string& cell);

}  // namespace anchorsweep
