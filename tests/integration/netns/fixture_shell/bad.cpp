// bad.cpp — fixture for the ctest netns.no_shell_calls_detects: the checker must reject this file.
#include <cstdlib>
void set_up_network() { std::system("ip link add br0 type bridge"); }
