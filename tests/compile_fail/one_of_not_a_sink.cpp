// Must not compile: one_of's alternatives must all be log sinks (int is none).
#include <fcs/log/one_of.hpp>
#include <fcs/log/sinks.hpp>
int main() {
    fcs::log::one_of<fcs::log::stderr_sink, int> sink = fcs::log::stderr_sink{};
    sink.write(fcs::policy::level::info, "hello");
}
