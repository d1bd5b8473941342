/* The dashboard's pages in navigation order. A page is a module whose default export is
   {id, title, roles, render(main, arg, params)}; add a page by adding its module here. */

import agreement from "./agreement.js";
import compare from "./compare.js";
import country from "./country.js";
import keyfigures from "./keyfigures.js";
import portfolio from "./portfolio.js";
import rejections from "./rejections.js";
import timetravel from "./timetravel.js";

export const PAGES = [portfolio, agreement, timetravel, compare, country, keyfigures, rejections];
