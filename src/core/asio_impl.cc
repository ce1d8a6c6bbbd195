// Compiles Asio's implementation once (BOOST_ASIO_SEPARATE_COMPILATION); Beast
// and SSL are compiled in http/asio_impl.cc.
#include <boost/asio/impl/src.hpp>
