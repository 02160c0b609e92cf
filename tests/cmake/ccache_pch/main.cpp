#include "once.h"

int main() {
  Answer answer{42};
  return answer.value == 42 ? 0 : 1;
}
