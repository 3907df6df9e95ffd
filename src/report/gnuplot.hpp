// Running gnuplot on a generated script.
#pragma once

#include <string>

namespace anchorsweep {

// The gnuplot executable, or "" when there is none. $ANCHORSWEEP_GNUPLOT overrides the
// search of $PATH (a path or a command name; an unusable value means "no gnuplot").
std::string find_gnuplot();

// Runs `gnuplot SCRIPT`; returns "" on success, else the exit status and gnuplot's stderr.
std::string run_gnuplot(const std::string& gnuplot, const std::string& script_path);

// A gnuplot string literal: 'text' with ' doubled.
std::string gp_str(const std::string& text);

// An SVG file reduced to its <svg ...>...</svg> element, ready to inline in HTML;
// "" when the file is missing or holds no <svg element.
std::string inline_svg(const std::string& path);

}  // namespace anchorsweep
