// The SVG plot, written as plain text: one panel per policy with the arrival rate (requests
// per second), queued tasks and agents over time, each scaled to the panel's own maximum.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sim/report.h"

namespace ollamaflow::sim {
namespace {

constexpr double kWidth = 900;
constexpr double kPanelHeight = 150;
constexpr double kLeft = 60;
constexpr double kRight = 20;
constexpr double kTop = 40;
constexpr double kGap = 40;

struct Series {
  const char* label;
  const char* color;
  double (*value)(const TimePoint&);
};

const Series kSeries[] = {
    {"arrivals/s", "#1f77b4", [](const TimePoint& p) { return p.arrival_rate; }},
    {"queued", "#d62728", [](const TimePoint& p) { return static_cast<double>(p.queued); }},
    {"agents", "#2ca02c", [](const TimePoint& p) { return static_cast<double>(p.agents); }},
};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string panel(const PolicyRun& entry, double top, double duration) {
  const std::vector<TimePoint>& points = entry.run.points;
  const double plot_width = kWidth - kLeft - kRight;
  std::string out =
      fmt::format("<text x=\"{}\" y=\"{:.0f}\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                  kLeft, top - 6, escape(entry.figures.policy));
  out += fmt::format(
      "<rect x=\"{}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{}\" fill=\"none\" "
      "stroke=\"#999\"/>\n",
      kLeft, top, plot_width, kPanelHeight);
  double label_x = kLeft + plot_width - 330;
  for (const Series& series : kSeries) {
    double peak = 0;
    for (const TimePoint& point : points) {
      peak = std::max(peak, series.value(point));
    }
    const double scale = peak > 0 ? peak * 1.05 : 1;
    std::string path;
    for (const TimePoint& point : points) {
      const double x = kLeft + plot_width * std::clamp(point.t / duration, 0.0, 1.0);
      const double y = top + kPanelHeight * (1 - series.value(point) / scale);
      path += fmt::format("{}{:.0f},{:.0f}", path.empty() ? "M" : " L", x, y);
    }
    out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\"/>\n", path,
                       series.color);
    out += fmt::format(
        "<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"11\" fill=\"{}\">{} (max {:.1f})</text>\n",
        label_x, top + 14, series.color, series.label, peak);
    label_x += 110;
  }
  return out;
}

}  // namespace

std::string render_svg(const SimulationReport& report) {
  double duration = 1;
  for (const PolicyRun& entry : report.runs) {
    duration = std::max(duration, entry.run.duration_s);
  }
  const double height = kTop + static_cast<double>(report.runs.size()) * (kPanelHeight + kGap) + 30;
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, height);
  out += fmt::format(
      "<text x=\"{}\" y=\"20\" font-size=\"14\">Simulated: {}, start-up {:.0f} s, "
      "seed {}</text>\n",
      kLeft, escape(report.trace_description), report.startup_s, report.seed);
  double top = kTop + 14;
  for (const PolicyRun& entry : report.runs) {
    out += panel(entry, top, duration);
    top += kPanelHeight + kGap;
  }
  out += fmt::format(
      "<text x=\"{}\" y=\"{:.0f}\" font-size=\"11\">time 0 to {:.0f} s; each line "
      "scaled to its own maximum</text>\n</svg>\n",
      kLeft, top - kGap + 20, duration);
  return out;
}

}  // namespace ollamaflow::sim
