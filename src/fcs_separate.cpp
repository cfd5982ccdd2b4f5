// The one translation unit of fcs::separate: the bodies that units built with
// FCS_SEPARATE_COMPILATION only declare (see fcs/src.hpp).
#include <fcs/src.hpp>
