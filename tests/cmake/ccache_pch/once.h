#pragma once
// version 1 of this comment
struct Answer {
  int value;
};
