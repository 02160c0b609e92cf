// LRFinder::plot: the loss against the learning rate as a PNG, in the layout
// of Lightning's matplotlib plot (log x axis in exponential mode, the
// suggestion as a red dot). Axes with a tick per decade (exponential) or per
// tenth of the range (linear) and light grid lines; no text.
#include <algorithm>
#include <cmath>

#include "lightning/error.h"
#include "lightning/tuner.h"
#include "util/png.h"

namespace lightning {

void LRFinder::plot(const std::string& png_path, bool suggest) {
  if (suggest) suggestion();
  const bool log_x = mode_ == "exponential";
  std::vector<std::pair<double, double>> points;  // (x, loss) of the finite losses
  for (size_t i = 0; i < lrs_.size(); ++i) {
    if (!std::isfinite(losses_[i]) || (log_x && lrs_[i] <= 0)) continue;
    points.emplace_back(log_x ? std::log10(lrs_[i]) : lrs_[i], losses_[i]);
  }
  LIGHTNING_CHECK(points.size() >= 2, "LRFinder::plot(\"", png_path, "\"): ", points.size(),
                  " finite loss value(s) to plot; run a sweep with more steps first.");

  constexpr int kWidth = 640, kHeight = 480;
  constexpr int kLeft = 60, kRight = 20, kTop = 20, kBottom = 50;
  double x_min = points.front().first, x_max = x_min;
  double y_min = points.front().second, y_max = y_min;
  for (const auto& [x, y] : points) {
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
    y_min = std::min(y_min, y);
    y_max = std::max(y_max, y);
  }
  if (x_max == x_min) x_max = x_min + 1;
  if (y_max == y_min) y_max = y_min + 1;
  const double y_pad = 0.05 * (y_max - y_min);
  y_min -= y_pad;
  y_max += y_pad;
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) {
    return kLeft + static_cast<int>(std::lround((x - x_min) / (x_max - x_min) * plot_w));
  };
  auto py = [&](double y) {
    return kTop + static_cast<int>(std::lround((y_max - y) / (y_max - y_min) * plot_h));
  };

  detail::RgbImage image(kWidth, kHeight);
  constexpr uint32_t kGrid = 0xe0e0e0, kAxis = 0x000000, kLine = 0x1f77b4, kDot = 0xff0000;
  std::vector<double> ticks;
  if (log_x) {
    for (double d = std::ceil(x_min); d <= std::floor(x_max); d += 1) ticks.push_back(d);
  } else {
    for (int i = 0; i <= 10; ++i) ticks.push_back(x_min + (x_max - x_min) * i / 10.0);
  }
  for (double t : ticks) {
    image.line(px(t), kTop, px(t), kTop + plot_h, kGrid);
    image.line(px(t), kTop + plot_h, px(t), kTop + plot_h + 6, kAxis);
  }
  for (int i = 0; i <= 5; ++i) {
    const int y = kTop + plot_h * i / 5;
    image.line(kLeft, y, kLeft + plot_w, y, kGrid);
    image.line(kLeft - 6, y, kLeft, y, kAxis);
  }
  image.line(kLeft, kTop, kLeft, kTop + plot_h, kAxis);
  image.line(kLeft, kTop + plot_h, kLeft + plot_w, kTop + plot_h, kAxis);
  for (size_t i = 1; i < points.size(); ++i) {
    image.line(px(points[i - 1].first), py(points[i - 1].second), px(points[i].first),
               py(points[i].second), kLine, 2);
  }
  if (suggest && optimal_idx_) {
    const auto i = static_cast<size_t>(*optimal_idx_);
    image.disc(px(log_x ? std::log10(lrs_[i]) : lrs_[i]), py(losses_[i]), 5, kDot);
  }
  detail::write_png(png_path, image);
}

}  // namespace lightning
