// Compiles SSL's and Beast's implementation once (BOOST_*_SEPARATE_COMPILATION);
// Asio's own is in core/asio_impl.cc (up_core_async).
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
