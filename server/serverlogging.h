// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SERVERLOGGING_H
#define SYNQ_SERVERLOGGING_H

#include <QtCore/QLoggingCategory>

// "synq.server": start, stop and failures at info/warning; one line per request at debug.
// Tokens are never logged, at any level.
Q_DECLARE_LOGGING_CATEGORY(lcServer)

#endif
