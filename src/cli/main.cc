#include <cstdio>

int main() {
  std::puts("ollama-flow");
  return 0;
}
