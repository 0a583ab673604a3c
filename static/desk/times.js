// Pages with nothing live on them (the contact page) still draw their times one way: here.
import { timesRender } from "../common/format.js";

timesRender();
